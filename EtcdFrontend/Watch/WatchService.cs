using Grpc.Core;
using KubeBrain.EtcdFrontend.Kv;
using KubeBrain.EtcdFrontend.Mapping;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// etcd's Watch service. Requests on a stream are handled one at a time, so `created` replies leave in request
/// order (clients match them first-in, first-out), each before any event of its watcher. A client that closes
/// its sending side keeps receiving until it cancels the call, as with etcd; a client that resets the stream
/// just ends it.
/// </summary>
internal sealed class WatchService(WatchHub hub, KvBackend backend, ResponseHeaders headers, IOptions<EtcdFrontendOptions> options) : Rpc.Watch.WatchBase
{
    /// <summary>etcd's text for a client-chosen watch id already in use on the stream.</summary>
    public const string DuplicateIdReason = "mvcc: duplicate watch ID provided on the WatchStream";

    public override async Task Watch(IAsyncStreamReader<Rpc.WatchRequest> requestStream, IServerStreamWriter<Rpc.WatchResponse> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var stream = new WatchStream(headers, options.Value.MaxRequestBytes);
        var sending = stream.SendLoopAsync(responseStream, ct);
        try
        {
            await foreach (var request in requestStream.ReadAllAsync(ct))
            {
                switch (request.RequestUnionCase)
                {
                    case Rpc.WatchRequest.RequestUnionOneofCase.CreateRequest:
                        await CreateAsync(stream, request.CreateRequest, ct);
                        break;
                    case Rpc.WatchRequest.RequestUnionOneofCase.CancelRequest:
                        await CancelAsync(stream, request.CancelRequest.WatchId, ct);
                        break;
                    case Rpc.WatchRequest.RequestUnionOneofCase.ProgressRequest:
                        hub.RequestProgress(stream);
                        break;
                }
            }
            await sending;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            hub.Close(stream);
            stream.Complete();
        }
    }

    private async Task CreateAsync(WatchStream stream, Rpc.WatchCreateRequest request, CancellationToken ct)
    {
        await hub.WaitFedAsync(await backend.RevisionAsync(), ct);
        var now = hub.Fed;
        var start = request.StartRevision == 0 ? now + 1 : Math.Max(request.StartRevision, 1);
        var span = ProtoMapping.ToWatchSpan(request.Key, request.RangeEnd);
        var watcher = hub.Register(stream, request.WatchId, id => new Watcher(stream, id, span, start)
        {
            NoPut = request.Filters.Contains(Rpc.WatchCreateRequest.Types.FilterType.Noput),
            NoDelete = request.Filters.Contains(Rpc.WatchCreateRequest.Types.FilterType.Nodelete),
            PrevKv = request.PrevKv,
            ProgressNotify = request.ProgressNotify,
            Fragment = request.Fragment,
        });
        var created = WatchStream.Notice(watcher?.Id ?? -1);
        created.Created = true;
        if (watcher is null)
        {
            created.Canceled = true;
            created.CancelReason = DuplicateIdReason;
        }
        await stream.EnqueueAsync(created, now, ct);
        if (watcher is not null)
        {
            hub.Start(watcher);
        }
    }

    private async Task CancelAsync(WatchStream stream, long watchId, CancellationToken ct)
    {
        if (hub.Cancel(stream, watchId) is null)
        {
            return;
        }
        var canceled = WatchStream.Notice(watchId);
        canceled.Canceled = true;
        await stream.EnqueueAsync(canceled, hub.Fed, ct);
    }
}
