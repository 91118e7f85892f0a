using System.Globalization;
using System.Text;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Answers a gRPC call that no endpoint serves as etcd 3.4's gRPC server (grpc-go) does: <c>Unimplemented</c>,
/// "unknown service S" or "unknown method M for service S", and <c>ResourceExhausted</c> with "malformed method name"
/// for a path without a method. gRPC for ASP.NET Core answers such calls itself through catch-all routes, but
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
            context.GetEndpoint() is null && HttpMethods.IsPost(context.Request.Method) && IsGrpc(context.Request.ContentType)
                ? AnswerAsync(context, served.Value)
                : next(context));
    }

    /// <summary>grpc-go's test: the content type is gRPC's, alone or followed by '+' or ';'.</summary>
    private static bool IsGrpc(string? contentType) =>
        contentType is not null
        && contentType.StartsWith(GrpcContentType, StringComparison.Ordinal)
        && (contentType.Length == GrpcContentType.Length || contentType[GrpcContentType.Length] is '+' or ';');

    private static HashSet<string> ServedServices(EndpointDataSource endpoints) =>
        endpoints.Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.ServiceName)
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>A trailers-only answer, the status in the response's headers, as gRPC ends a call that has no body.</summary>
    private static Task AnswerAsync(HttpContext context, HashSet<string> served)
    {
        var (code, message) = StatusOf(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "", served);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcContentType;
        response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncoded(message);
        return Task.CompletedTask;
    }

    /// <summary>grpc-go's status for the method name <paramref name="path"/> (as sent) that it cannot dispatch.</summary>
    private static (StatusCode Code, string Message) StatusOf(string path, HashSet<string> served)
    {
        var name = path.StartsWith('/') ? path[1..] : path;
        var slash = name.LastIndexOf('/');
        if (slash < 0)
        {
            return (StatusCode.ResourceExhausted, $"malformed method name: \"{path.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        }
        var service = name[..slash];
        return (StatusCode.Unimplemented, served.Contains(service) ? $"unknown method {name[(slash + 1)..]} for service {service}" : $"unknown service {service}");
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
