using System.Text;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Answers a gRPC call that no endpoint serves as etcd's gRPC server does: <c>Unimplemented</c>, "unknown service S"
/// or "unknown method M for service S". gRPC for ASP.NET Core answers such calls itself through catch-all routes, but
/// the router then captures those routes' values for every call it routes (3 % of what a put allocates); so they
/// are not mapped (<c>IgnoreUnknownServices</c>) and a call that found no endpoint comes here.
/// </summary>
internal static class UnknownCalls
{
    private const string GrpcContentType = "application/grpc";

    /// <summary>Adds the answer after routing, for calls that found no endpoint.</summary>
    public static void UseUnknownCalls(this WebApplication app)
    {
        var served = new Lazy<HashSet<string>>(() => ServedServices(app.Services.GetRequiredService<EndpointDataSource>()));
        app.Use((context, next) =>
            context.GetEndpoint() is null && context.Request.ContentType?.StartsWith(GrpcContentType, StringComparison.Ordinal) == true
                ? AnswerAsync(context, served.Value)
                : next(context));
    }

    private static HashSet<string> ServedServices(EndpointDataSource endpoints) =>
        endpoints.Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.ServiceName)
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>A trailers-only answer, the status in the response's headers, as gRPC ends a call that has no body.</summary>
    private static Task AnswerAsync(HttpContext context, HashSet<string> served)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcContentType;
        response.Headers["grpc-status"] = "12";
        response.Headers["grpc-message"] = PercentEncoded(Message(context.Request.Path.Value ?? "", served));
        return Task.CompletedTask;
    }

    /// <summary>grpc-go's words for a method name it cannot dispatch.</summary>
    private static string Message(string path, HashSet<string> served)
    {
        var name = path.StartsWith('/') ? path[1..] : path;
        var slash = name.LastIndexOf('/');
        if (slash < 0)
        {
            return $"malformed method name: \"{name}\"";
        }
        var service = name[..slash];
        return served.Contains(service) ? $"unknown method {name[(slash + 1)..]} for service {service}" : $"unknown service {service}";
    }

    /// <summary>The grpc-message header's encoding: printable ASCII but '%' as it is, every other UTF-8 byte as %XX.</summary>
    private static string PercentEncoded(string message)
    {
        var encoded = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append(b.ToString("X2"));
            }
        }
        return encoded.ToString();
    }
}
