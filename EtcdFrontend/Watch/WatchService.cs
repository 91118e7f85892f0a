using Grpc.Core;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Kv;
using KubeBrain.EtcdFrontend.Mapping;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// etcd's Watch service. Requests on a stream are handled one at a time, so `created` replies leave in request
/// order (clients match them first-in, first-out), each before any event of its watcher. A client that closes
/// its sending side keeps receiving until it cancels the call, as with etcd; a stream open when the process begins
/// to stop ends with Unavailable; a client that resets the stream
/// just ends it. Bound by <see cref="WatchMethod"/>, which writes responses as <see cref="WatchReply"/>.
/// </summary>
internal sealed class WatchService(WatchHub hub, KvBackend backend, ResponseHeaders headers, StreamShutdown shutdown, IOptions<EtcdFrontendOptions> options)
{
    /// <summary>etcd's text for a client-chosen watch id already in use on the stream.</summary>
    public const string DuplicateIdReason = "mvcc: duplicate watch ID provided on the WatchStream";

    /// <summary>etcd's text for a watch whose range_end is not after its key.</summary>
    public const string EmptyRangeReason = "mvcc: watcher range is empty";

    public async Task Watch(IAsyncStreamReader<Rpc.WatchRequest> requestStream, IServerStreamWriter<WatchReply> responseStream, ServerCallContext context)
    {
        using var call = shutdown.Link(context);
        var ct = call.Token;
        var stream = new WatchStream(headers, options.Value.MaxMessageBytes);
        var sending = stream.SendLoopAsync(responseStream, ct, context.CancellationToken);
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
            // The send loop may end on a hub thread that flushed it; the stream's teardown runs on a thread of its own.
            await sending.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
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
        if (shutdown.IsStopping)
        {
            await sending.ContinueWith(_ => { }, TaskScheduler.Default);
            throw EtcdErrors.Stopped;
        }
    }

    private async Task CreateAsync(WatchStream stream, Rpc.WatchCreateRequest request, CancellationToken ct)
    {
        await hub.WaitFedAsync(await backend.RevisionAsync(), ct);
        var span = ProtoMapping.ToWatchSpan(request.Key, request.RangeEnd);
        if (span.IsEmpty)
        {
            await RefuseAsync(stream, EmptyRangeReason, hub.Fed, ct);
            return;
        }
        while (true)
        {
            var (outcome, watcher, now) = hub.Register(stream, request.WatchId, request.StartRevision, (id, start) => new Watcher(stream, id, span, start)
            {
                NoPut = request.Filters.Contains(Rpc.WatchCreateRequest.Types.FilterType.Noput),
                NoDelete = request.Filters.Contains(Rpc.WatchCreateRequest.Types.FilterType.Nodelete),
                PrevKv = request.PrevKv,
                ProgressNotify = request.ProgressNotify,
                Fragment = request.Fragment,
            });
            switch (outcome)
            {
                case Registration.Created:
                    hub.Start(watcher!);
                    return;
                case Registration.Duplicate:
                    await RefuseAsync(stream, DuplicateIdReason, now, ct);
                    return;
                default:
                    await stream.WaitForRoomAsync(ct);
                    break;
            }
        }
    }

    /// <summary>etcd's answer to a create it refuses: created and canceled at once, watch id −1, and the reason.</summary>
    private static async Task RefuseAsync(WatchStream stream, string reason, long revision, CancellationToken ct)
    {
        var refused = WatchStream.Notice(-1);
        refused.Created = true;
        refused.Canceled = true;
        refused.CancelReason = reason;
        await stream.EnqueueAsync(refused, revision, ct);
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
