using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>Registers the PostgreSQL store and brings its schema up to date before the host starts anything else.</summary>
public static class PostgresStoreServiceCollectionExtensions
{
    /// <summary>
    /// Makes <see cref="PostgresMvccStore"/> the <see cref="IMvccStore"/> and applies the pending migrations when the
    /// host is starting, before any hosted service (the Orleans silo among them) starts. Call it before
    /// <c>UseOrleans</c>.
    /// </summary>
    public static IServiceCollection AddPostgresMvccStore(this IServiceCollection services, Action<PostgresStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new PostgresStoreOptions();
        configure(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<PostgresMvccStore>();
        services.AddSingleton<IMvccStore>(provider => provider.GetRequiredService<PostgresMvccStore>());
        services.AddHostedService<PostgresSchemaMigration>();
        return services;
    }
}

/// <summary>
/// Applies the PostgreSQL schema migrations through the store in the host's starting phase: the Orleans membership
/// table must exist before the silo joins, and the store serves reads from then on.
/// </summary>
internal sealed partial class PostgresSchemaMigration(PostgresMvccStore store, PostgresStoreOptions options, ILogger<PostgresSchemaMigration> logger)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> applied;
        try
        {
            applied = await store.MigrateAsync(cancellationToken);
        }
        catch (Exception failure) when (PostgresFailures.IsTransient(failure))
        {
            var target = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            LogUnreachable(failure, target.Host, target.Port, target.Database ?? target.Username);
            throw;
        }
        LogMigrated(applied.Count, string.Join(", ", applied));
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3011, Level = LogLevel.Critical, Message = "PostgreSQL at {Host}:{Port}/{Database} is unreachable, so the server cannot start. Check that PostgreSQL is up and accepts connections from this host, and the address and credentials in --postgres-connection-string or KUBEBRAIN_POSTGRES")]
    private partial void LogUnreachable(Exception exception, string? host, int port, string? database);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "PostgreSQL schema is current; this start applied {Count} migrations: {Names}")]
    private partial void LogMigrated(int count, string names);
}
