using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace KubeBrain.Tests.Infrastructure;

public sealed class FreePortTests
{
    [Fact]
    public void PortsAreDistinct_ListenableAndBelowTheEphemeralRange()
    {
        var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '])[0], CultureInfo.InvariantCulture);
        var ports = Enumerable.Range(0, 50).Select(_ => FreePort.Next()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1024, ephemeralLow - 1));
        var listener = new TcpListener(IPAddress.Loopback, ports[0]);
        listener.Start();
        listener.Stop();
    }
}
