using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Grains.Leases;

/// <summary>
/// The lease state the sequencer owns, as etcd's lessor keeps it: the live leases with their granted TTL and
/// expiry, and which lease each key's live version carries (learned from committed rows, so it always matches the
/// store). A lease that has ended keeps its keys recorded until their deletion commits; they are left to the deletion
/// under way until a time the caller sets, and from then on they are <see cref="Orphaned"/>.
/// Times are readings of a monotonic clock that the caller passes in.
/// </summary>
internal sealed class Lessor
{
    /// <summary>
    /// etcd's minimum TTL in seconds: ceil(3/2 × election ticks × heartbeat), which is ceil(1.5 s) = 2 s for etcd's
    /// default heartbeat (100 ms) and election timeout (1000 ms).
    /// </summary>
    public const long MinTtl = 2;

    /// <summary>etcd's largest grantable TTL in seconds.</summary>
    public const long MaxTtl = 9_000_000_000;

    private readonly Dictionary<long, Lease> _live = [];
    private readonly Dictionary<long, SortedSet<byte[]>> _keysOf = [];
    private readonly Dictionary<byte[], long> _leaseOf = new(ByteKeyComparer.Instance);
    private readonly Dictionary<long, TimeSpan> _leftUntil = [];

    /// <summary>The TTL a grant of <paramref name="requested"/> seconds gets: raised to <see cref="MinTtl"/>.</summary>
    public static long GrantedTtl(long requested) => Math.Max(requested, MinTtl);

    /// <summary>
    /// Takes the recorded leases, each armed to expire its granted TTL after <paramref name="now"/> (as etcd re-arms
    /// leases without checkpoints on promotion), and the live keys that carry a lease, recorded or not.
    /// </summary>
    public void Load(IEnumerable<StoredLease> leases, IEnumerable<LeasedKey> keys, TimeSpan now)
    {
        foreach (var lease in leases)
        {
            _live[lease.Id] = new Lease(GrantedTtl(lease.Ttl), now);
        }
        foreach (var key in keys)
        {
            Attach(key.Key, key.Lease);
        }
    }

    /// <summary>True when <paramref name="id"/> is a live lease, which puts may name.</summary>
    public bool IsLive(long id) => _live.ContainsKey(id);

    /// <summary>True when a grant may not take <paramref name="id"/>: it is live, or keys still carry it.</summary>
    public bool IsTaken(long id) => _live.ContainsKey(id) || _keysOf.ContainsKey(id);

    /// <summary>A positive id no lease and no key holds.</summary>
    public long NewId()
    {
        long id;
        do
        {
            id = Random.Shared.NextInt64(1, long.MaxValue);
        }
        while (IsTaken(id));
        return id;
    }

    /// <summary>Adds a live lease of <paramref name="ttl"/> seconds, expiring that long after <paramref name="now"/>.</summary>
    public void Grant(long id, long ttl, TimeSpan now) => _live[id] = new Lease(ttl, now);

    /// <summary>
    /// Ends a live lease: from now on puts may not name it. Its keys stay recorded, and are left to their deletion
    /// until <see cref="LeaveKeys"/> says otherwise; the caller must call it once the puts under way have committed.
    /// False when it was not live.
    /// </summary>
    public bool End(long id)
    {
        if (!_live.Remove(id))
        {
            return false;
        }
        _leftUntil[id] = TimeSpan.MaxValue;
        return true;
    }

    /// <summary>
    /// Leaves the keys that still carry the ended lease <paramref name="id"/> to a deletion under way until
    /// <paramref name="until"/>; they are orphans after it.
    /// </summary>
    public void LeaveKeys(long id, TimeSpan until)
    {
        if (_keysOf.ContainsKey(id))
        {
            _leftUntil[id] = until;
        }
        else
        {
            _leftUntil.Remove(id);
        }
    }

    /// <summary>
    /// Refreshes a live lease to its granted TTL and returns that TTL; 0 when it is not live or has expired (etcd
    /// does not renew a lease that awaits its revoke).
    /// </summary>
    public long Renew(long id, TimeSpan now)
    {
        if (!_live.TryGetValue(id, out var lease) || lease.Remaining(now) <= TimeSpan.Zero)
        {
            return 0;
        }
        lease.Refresh(now);
        return lease.Ttl;
    }

    /// <summary>
    /// The whole seconds left (rounded down, as etcd truncates; 0 once expired) and the granted TTL of a live
    /// lease, or null.
    /// </summary>
    public (long Remaining, long Granted)? TimeToLive(long id, TimeSpan now) =>
        _live.TryGetValue(id, out var lease) ? (Math.Max(0, (long)lease.Remaining(now).TotalSeconds), lease.Ttl) : null;

    /// <summary>The keys recorded as carrying <paramref name="id"/>, in key order.</summary>
    public IReadOnlyList<byte[]> KeysOf(long id) => _keysOf.TryGetValue(id, out var keys) ? [.. keys] : [];

    /// <summary>The live leases that have expired at <paramref name="now"/>, soonest expiry first.</summary>
    public List<long> Expired(TimeSpan now) =>
        [.. _live.Where(l => l.Value.Remaining(now) <= TimeSpan.Zero).OrderBy(l => l.Value.ExpiresAt).Select(l => l.Key)];

    /// <summary>The live leases, soonest expiry first (etcd's order).</summary>
    public List<long> LiveIds() => [.. _live.OrderBy(l => l.Value.ExpiresAt).ThenBy(l => l.Key).Select(l => l.Key)];

    /// <summary>Ended leases that keys still carry and that are no longer left to a deletion at <paramref name="now"/>.</summary>
    public List<long> Orphaned(TimeSpan now) =>
        [.. _keysOf.Keys.Where(id => !_live.ContainsKey(id) && !(_leftUntil.TryGetValue(id, out var until) && now < until))];

    /// <summary>
    /// Follows committed rows in commit order: a put with a lease attaches its key to that lease, a put without
    /// one or a tombstone detaches it.
    /// </summary>
    public void Track(IEnumerable<StoredRow> rows)
    {
        foreach (var row in rows)
        {
            if (!row.Tombstone && row.Lease != 0)
            {
                Attach(row.Key, row.Lease);
            }
            else if (_leaseOf.Count > 0)
            {
                Detach(row.Key);
            }
        }
    }

    private void Attach(byte[] key, long lease)
    {
        if (_leaseOf.TryGetValue(key, out var old))
        {
            if (old == lease)
            {
                return;
            }
            Detach(key);
        }
        _leaseOf[key] = lease;
        if (!_keysOf.TryGetValue(lease, out var keys))
        {
            keys = new SortedSet<byte[]>(ByteKeyComparer.Instance);
            _keysOf[lease] = keys;
        }
        keys.Add(key);
    }

    private void Detach(byte[] key)
    {
        if (_leaseOf.Remove(key, out var lease) && _keysOf.TryGetValue(lease, out var keys))
        {
            keys.Remove(key);
            if (keys.Count == 0)
            {
                _keysOf.Remove(lease);
                _leftUntil.Remove(lease);
            }
        }
    }

    /// <summary>A live lease: its granted TTL in seconds and when it expires.</summary>
    private sealed class Lease(long ttl, TimeSpan now)
    {
        public long Ttl { get; } = ttl;

        public TimeSpan ExpiresAt { get; private set; } = now + TimeSpan.FromSeconds(ttl);

        public TimeSpan Remaining(TimeSpan now) => ExpiresAt - now;

        public void Refresh(TimeSpan now) => ExpiresAt = now + TimeSpan.FromSeconds(Ttl);
    }
}
