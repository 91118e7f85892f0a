using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>Random choices of a traffic profile, all drawn from the client's random source.</summary>
internal static class Choose
{
    /// <summary>One of <paramref name="choices"/>, each as likely as its weight.</summary>
    public static T Weighted<T>(Random random, IReadOnlyList<(T Choice, int Weight)> choices)
    {
        var roll = random.Next(choices.Sum(c => c.Weight));
        foreach (var (choice, weight) in choices)
        {
            if (roll < weight)
            {
                return choice;
            }
            roll -= weight;
        }
        throw new InvalidOperationException("The weights do not add up.");
    }

    /// <summary>0 .. <paramref name="count"/> - 1 in a random order.</summary>
    public static int[] Permutation(Random random, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        random.Shuffle(order);
        return order;
    }

    /// <summary>True about once in <paramref name="odds"/> draws.</summary>
    public static bool OneIn(Random random, int odds) => random.Next(odds) == 0;
}

/// <summary>
/// Values no other write of the campaign uses: the client's id and a count of its writes, padded to a random size
/// of 16 to 1024 bytes, so a checker can tell which write a value came from, even when its outcome is unknown.
/// Unique as long as client ids are unique within a campaign.
/// </summary>
internal sealed class UniqueValues(TrafficClient client)
{
    private const int MinSize = 16;
    private const int MaxSize = 1024;
    private long _written;

    public string Next()
    {
        var head = $"c{client.Id}-{++_written}-";
        return head.PadRight(client.Random.Next(MinSize, MaxSize + 1), 'x');
    }
}

/// <summary>
/// The leases one client granted. Writes share a lease for a few uses before the next is granted (as the
/// apiserver reuses an event lease), and a revoke takes one of the client's recent leases, expired or not.
/// </summary>
internal sealed class ClientLeases(TrafficClient client)
{
    /// <summary>Shortest TTL granted: well above etcd's minimum of 2 s, so client-side timing cannot matter.</summary>
    private const int MinTtl = 5;
    private const int MaxTtl = 10;
    private const int MaxUses = 6;
    private const int Remembered = 8;
    private readonly List<long> _granted = [];
    private long _current;
    private int _usesLeft;

    /// <summary>A lease for the next write: the current one while it has uses left, else a new grant; 0 if that failed.</summary>
    public async Task<long> ForWriteAsync()
    {
        if (_usesLeft == 0)
        {
            var grant = await client.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = client.Random.Next(MinTtl, MaxTtl + 1) });
            if (grant is null)
            {
                return 0;
            }
            _current = grant.ID;
            _usesLeft = client.Random.Next(1, MaxUses + 1);
            _granted.Add(_current);
            if (_granted.Count > Remembered)
            {
                _granted.RemoveAt(0);
            }
        }
        _usesLeft--;
        return _current;
    }

    /// <summary>Revokes one of the client's leases, if it has any; the lease is forgotten whatever the answer.</summary>
    public async Task RevokeAsync()
    {
        if (_granted.Count == 0)
        {
            return;
        }
        var index = client.Random.Next(_granted.Count);
        var lease = _granted[index];
        _granted.RemoveAt(index);
        if (lease == _current)
        {
            _usesLeft = 0;
        }
        await client.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = lease });
    }
}
