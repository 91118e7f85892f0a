namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>Where the PostgreSQL store lives and how many connections it may hold.</summary>
public sealed class PostgresStoreOptions
{
    /// <summary>The default of <see cref="MaxPoolSize"/>.</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>An Npgsql connection string naming the database (<c>Host=…;Port=…;Username=…;Database=…</c>).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The most connections the store keeps open at once; appends, reads and leases share them.</summary>
    public int MaxPoolSize { get; set; } = DefaultMaxPoolSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("The PostgreSQL store needs a connection string.", nameof(ConnectionString));
        }
        if (MaxPoolSize < 1)
        {
            throw new ArgumentException($"The PostgreSQL store needs a pool of at least one connection, not {MaxPoolSize}.", nameof(MaxPoolSize));
        }
    }
}
