using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// Loopback ports nobody listens on, for servers started by tests. They are taken below the kernel's range for
/// outgoing connections: a port from that range can become the local end of some connection between the moment it
/// is handed out and the moment the test's server binds it, and the server then cannot listen there.
/// </summary>
public static class FreePort
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> Handed = [];
    private static readonly int BelowEphemeral = EphemeralLow();

    public static int Next()
    {
        lock (Handed)
        {
            while (true)
            {
                var port = Random.Shared.Next(Lowest, BelowEphemeral);
                if (!Handed.Contains(port) && CanListen(port))
                {
                    Handed.Add(port);
                    return port;
                }
            }
        }
    }

    private static bool CanListen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>The first port of <c>net.ipv4.ip_local_port_range</c>.</summary>
    private static int EphemeralLow() =>
        int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '])[0], CultureInfo.InvariantCulture);
}
