using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;

namespace KubeBrain.Tests.Robustness;

/// <summary>How a recorded request ended.</summary>
public enum Outcome
{
    /// <summary>Answered: the response is recorded.</summary>
    Ok,

    /// <summary>Refused with an error that means it had no effect (a bad or stale request).</summary>
    Failed,

    /// <summary>No answer that says whether it took effect (the connection broke, a timeout, Unavailable).</summary>
    Unknown,
}

/// <summary>
/// One client request as the client saw it: when it was sent and answered, on the recorder's clock (Stopwatch
/// ticks), and how it ended. Requests and responses are the etcd protobuf messages: RangeRequest, PutRequest,
/// DeleteRangeRequest, TxnRequest, CompactionRequest, LeaseGrantRequest, LeaseRevokeRequest and their responses.
/// An unknown outcome has no response and no return time that bounds its effect (<see cref="Return"/> is
/// <see cref="long.MaxValue"/>).
/// </summary>
public sealed record Operation(
    int Id,
    int Client,
    string Frontend,
    long Invoke,
    long Return,
    IMessage Request,
    IMessage? Response,
    Outcome Outcome,
    string? Error);

/// <summary>
/// Records client requests with invoke and return times. Every request goes through <see cref="CallAsync"/>,
/// which classifies its ending: a response is <see cref="Outcome.Ok"/>; an etcd error that refuses the request
/// (InvalidArgument, FailedPrecondition, OutOfRange, NotFound, Unimplemented, PermissionDenied,
/// ResourceExhausted) is <see cref="Outcome.Failed"/>; anything else is <see cref="Outcome.Unknown"/>.
/// </summary>
public sealed class HistoryRecorder
{
    private readonly ConcurrentQueue<Operation> _operations = new();
    private int _nextId;

    /// <summary>Everything recorded so far, in no particular order.</summary>
    public IReadOnlyList<Operation> Operations => [.. _operations];

    /// <summary>The recorder's clock.</summary>
    public static long Now => Stopwatch.GetTimestamp();

    /// <summary>Sends a request, records it, and returns how it ended, with the response if it was answered.</summary>
    public async Task<(TResponse? Response, Outcome Outcome)> CallAsync<TRequest, TResponse>(int client, string frontend, TRequest request, Func<TRequest, Task<TResponse>> send)
        where TRequest : IMessage
        where TResponse : class, IMessage
    {
        var id = Interlocked.Increment(ref _nextId);
        var invoke = Now;
        try
        {
            var response = await send(request);
            _operations.Enqueue(new Operation(id, client, frontend, invoke, Now, request, response, Outcome.Ok, null));
            return (response, Outcome.Ok);
        }
        catch (RpcException e)
        {
            var outcome = IsRefusal(e.StatusCode) ? Outcome.Failed : Outcome.Unknown;
            _operations.Enqueue(new Operation(id, client, frontend, invoke, outcome == Outcome.Failed ? Now : long.MaxValue, request, null, outcome, $"{e.StatusCode}: {e.Status.Detail}"));
            return (null, outcome);
        }
    }

    private static bool IsRefusal(StatusCode code) => code is StatusCode.InvalidArgument or StatusCode.FailedPrecondition
        or StatusCode.OutOfRange or StatusCode.NotFound or StatusCode.Unimplemented or StatusCode.PermissionDenied or StatusCode.ResourceExhausted;
}
