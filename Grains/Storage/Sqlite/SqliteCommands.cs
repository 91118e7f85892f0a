using Microsoft.Data.Sqlite;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>Connection and command plumbing shared by the SQLite reader, writer and migrator.</summary>
internal static class SqliteCommands
{
    /// <summary>How long a statement waits for a lock held by another connection.</summary>
    private const int BusyTimeoutMilliseconds = 10_000;

    /// <summary>Opens a connection of its own (no ADO.NET pooling, so that dispose closes the file).</summary>
    public static SqliteConnection OpenConnection(string path, SqliteOpenMode mode)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            Pooling = false,
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A reusable command whose parameters are created once and set by position on each use.</summary>
    public static SqliteCommand Create(SqliteConnection connection, string sql, params string[] parameterNames)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        return command;
    }

    /// <summary>Runs statements outside any explicit transaction.</summary>
    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
