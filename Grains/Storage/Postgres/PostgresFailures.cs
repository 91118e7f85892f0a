using System.Net.Sockets;
using Npgsql;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>Which failures mean that PostgreSQL is unreachable or going through a restart or failover for now.</summary>
internal static class PostgresFailures
{
    /// <summary>
    /// Npgsql's transient failures (network errors, timeouts, too many connections, …), connection errors (class
    /// 08), the server shutting down or starting up (57P01–57P03), and socket errors outside Npgsql.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.IsTransient
            || postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or SocketException or TimeoutException,
        IOException or SocketException or TimeoutException => true,
        _ => false,
    };

    /// <summary>
    /// Whether the server answered the statement with an error and kept the session: the statement, and the
    /// transaction it ran in, did not commit. A FATAL error or a lost connection says nothing about that.
    /// </summary>
    public static bool IsStatementError(Exception exception) =>
        exception is PostgresException { InvariantSeverity: "ERROR" };
}
