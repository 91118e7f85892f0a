using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// An <see cref="IMvccStore"/> decorator that can hold appends at a gate: the test learns when a matching
/// append reached the store and decides when it may proceed, which makes a commit outlive the grain call that
/// asked for it — a write whose outcome is unknown to its caller. It can also run a fault before and after each
/// append (a delay, or a refusal that honours the store contract: thrown before the batch reached the store).
/// </summary>
public sealed class GatedStore(IMvccStore inner) : IMvccStore
{
    private volatile Gate? _gate;
    private volatile TaskCompletionSource? _renewals;

    /// <summary>Holds the next append whose batch matches until <see cref="Gate.Open"/>.</summary>
    public Gate HoldNextAppend(Func<CommitBatch, bool> matches)
    {
        var gate = new Gate(matches);
        _gate = gate;
        return gate;
    }

    /// <summary>Holds every lease renewal until the returned source is completed.</summary>
    public TaskCompletionSource HoldRenewals() => _renewals = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Runs before each append reaches the store.</summary>
    public Func<CommitBatch, Task>? BeforeAppend { get; set; }

    /// <summary>Runs after each append committed, before the caller learns it.</summary>
    public Func<CommitBatch, Task>? AfterAppend { get; set; }

    public async Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken)
    {
        if (_gate is { } gate && gate.Matches(batch))
        {
            _gate = null;
            await gate.PassAsync();
        }
        if (BeforeAppend is { } before)
        {
            await before(batch);
        }
        await inner.AppendAsync(batch, cancellationToken);
        if (AfterAppend is { } after)
        {
            await after(batch);
        }
    }

    public Task<StoreMetadata> OpenAsync(TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        inner.OpenAsync(leaseDuration, cancellationToken);

    public async Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        if (_renewals is { } held)
        {
            await held.Task;
        }
        await inner.RenewLeaseAsync(epoch, leaseDuration, cancellationToken);
    }

    public Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(epoch, cancellationToken);

    public Task<RangeResult> RangeAsync(KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken) =>
        inner.RangeAsync(span, revision, limit, countOnly, cancellationToken);

    public Task<IReadOnlyList<byte[]?>> ReadValuesAsync(IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken) =>
        inner.ReadValuesAsync(versions, cancellationToken);

    public Task<RevisionsResult> ReadRevisionsAsync(long fromRevision, int maxRevisions, CancellationToken cancellationToken) =>
        inner.ReadRevisionsAsync(fromRevision, maxRevisions, cancellationToken);

    public Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken) =>
        inner.SetCompactRevisionAsync(epoch, revision, cancellationToken);

    public Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken) => inner.PurgeAsync(epoch, maxRows, cancellationToken);

    public Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken) =>
        inner.ClaimRangeAsync(epoch, rangeId, cancellationToken);

    public Task<IReadOnlyList<RangeOwner>> ListRangesAsync(CancellationToken cancellationToken) => inner.ListRangesAsync(cancellationToken);

    public Task<long> SizeAsync(CancellationToken cancellationToken) => inner.SizeAsync(cancellationToken);

    public Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken) =>
        inner.GrantLeaseAsync(epoch, lease, cancellationToken);

    public Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken) => inner.RevokeLeaseAsync(epoch, id, cancellationToken);

    public Task<IReadOnlyList<StoredLease>> ListLeasesAsync(CancellationToken cancellationToken) => inner.ListLeasesAsync(cancellationToken);

    public Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(CancellationToken cancellationToken) => inner.ListLeasedKeysAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    /// <summary>One held append.</summary>
    public sealed class Gate(Func<CommitBatch, bool> matches)
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the held append reached the store.</summary>
        public Task Reached => _reached.Task;

        public void Open() => _open.TrySetResult();

        internal bool Matches(CommitBatch batch) => matches(batch);

        internal Task PassAsync()
        {
            _reached.TrySetResult();
            return _open.Task;
        }
    }
}
