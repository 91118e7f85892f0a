using System.Net;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>HTTP/2 without TLS, as a client port speaks it for gRPC.</summary>
public static class H2c
{
    public static HttpClient Client() =>
        new() { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
}
