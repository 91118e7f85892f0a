using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// Binds etcd's <c>etcdserverpb.Watch/Watch</c> to <see cref="WatchService"/>: requests are etcd's
/// <c>WatchRequest</c>, responses are written by <see cref="WatchReply"/>, whose bytes are etcd's
/// <c>WatchResponse</c> with the events copied in already encoded.
/// </summary>
internal sealed class WatchMethod : IServiceMethodProvider<WatchService>
{
    private static readonly Method<Rpc.WatchRequest, WatchReply> Method = new(
        MethodType.DuplexStreaming,
        Rpc.Watch.Descriptor.FullName,
        "Watch",
        new Marshaller<Rpc.WatchRequest>(
            static (request, context) =>
            {
                context.SetPayloadLength(request.CalculateSize());
                request.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            static context => Rpc.WatchRequest.Parser.ParseFrom(context.PayloadAsReadOnlySequence())),
        WatchReply.Marshaller);

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<WatchService> context) =>
        context.AddDuplexStreamingMethod(Method, [], static (service, requests, responses, call) => service.Watch(requests, responses, call));
}
