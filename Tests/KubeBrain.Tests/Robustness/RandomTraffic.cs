using Google.Protobuf;
using KubeBrain.Protos.Mvccpb;
using KubeBrain.Tests.Infrastructure;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// A random mix of the etcd API on the keys <c>{prefix}/k0</c> .. <c>{prefix}/k9</c>: ranges of one key or of
/// all, with a random limit, some at a revision a little behind the newest the client saw; puts and deletes
/// of one key or of an interval, some asking for prev_kv; transactions of 2 or 3 compares (value, mod, version
/// or create revision, with any result) whose branches put, delete and read distinct keys; puts attached to a
/// lease the client granted, and revokes of those leases; and, about once in <see cref="CompactionOdds"/>
/// steps, a compaction at least <see cref="CompactionLag"/> revisions behind the newest revision the client saw,
/// and never above <paramref name="compactionCeiling"/> if given (a campaign passes the revision its
/// ground-truth watch has delivered). Every written value is unique (<see cref="UniqueValues"/>).
/// </summary>
public sealed class RandomTraffic(Func<long>? compactionCeiling = null) : ITrafficProfile
{
    public const string ProfileName = "random";
    public const int Keys = 10;
    public const int CompactionOdds = 200;
    public const int CompactionLag = 50;

    /// <summary>How far behind the newest revision the client saw a past-revision range reads, at most.</summary>
    public const int MaxStaleness = 10;

    private static readonly (Step Choice, int Weight)[] Steps =
    [
        (Step.Get, 15),
        (Step.List, 15),
        (Step.Put, 25),
        (Step.Delete, 7),
        (Step.DeleteInterval, 3),
        (Step.Txn, 20),
        (Step.PutWithLease, 10),
        (Step.RevokeLease, 5),
    ];

    private static readonly (OpKind Choice, int Weight)[] TxnOps = [(OpKind.Range, 40), (OpKind.Put, 45), (OpKind.Delete, 15)];

    private enum Step
    {
        Get,
        List,
        Put,
        Delete,
        DeleteInterval,
        Txn,
        PutWithLease,
        RevokeLease,
    }

    private enum OpKind
    {
        Range,
        Put,
        Delete,
    }

    public string Name => ProfileName;

    public async Task RunAsync(TrafficClient client, CancellationToken stop)
    {
        var run = new Run(client, compactionCeiling);
        while (!stop.IsCancellationRequested)
        {
            await Task.Yield();
            if (Choose.OneIn(client.Random, CompactionOdds))
            {
                await run.CompactAsync();
            }
            else
            {
                await run.StepAsync(Choose.Weighted(client.Random, Steps));
            }
        }
    }

    /// <summary>
    /// One client's run: the newest revision it saw, the revision it last compacted to, and the newest version
    /// of each key a read at the newest revision showed it (what its compares compare against).
    /// </summary>
    private sealed class Run(TrafficClient client, Func<long>? compactionCeiling)
    {
        private readonly Dictionary<int, KeyValue?> _seen = [];
        private readonly UniqueValues _values = new(client);
        private readonly ClientLeases _leases = new(client);
        private long _latest;
        private long _compacted;

        private Random Random => client.Random;

        public Task StepAsync(Step step) => step switch
        {
            Step.Get => RangeAsync(Etcd.Get(Key(Random.Next(Keys)))),
            Step.List => RangeAsync(Etcd.List(KeyPrefix, limit: Random.Next(Keys / 2 + 1))),
            Step.Put => PutAsync(lease: 0),
            Step.Delete => DeleteAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(Key(Random.Next(Keys))) }),
            Step.DeleteInterval => DeleteIntervalAsync(),
            Step.Txn => TxnAsync(),
            Step.PutWithLease => PutWithLeaseAsync(),
            Step.RevokeLease => _leases.RevokeAsync(),
            _ => throw new ArgumentOutOfRangeException(nameof(step)),
        };

        private string KeyPrefix => $"{client.Prefix}/k";

        private string Key(int index) => $"{KeyPrefix}{index}";

        /// <summary>The end of the interval that stops before key <paramref name="index"/> (the prefix's end after the last).</summary>
        private ByteString IntervalEnd(int index) => index < Keys ? Etcd.Bytes(Key(index)) : Etcd.PrefixEnd(KeyPrefix);

        private void Saw(Rpc.ResponseHeader header) => _latest = Math.Max(_latest, header.Revision);

        /// <summary>Reads at the newest revision, or, one time in three, a little behind the newest the client saw.</summary>
        private async Task RangeAsync(Rpc.RangeRequest request)
        {
            if (_latest > 0 && Choose.OneIn(Random, 3))
            {
                request.Revision = Math.Max(1, _latest - Random.Next(MaxStaleness + 1));
            }
            var response = await client.RangeAsync(request);
            if (response is null)
            {
                return;
            }
            Saw(response.Header);
            if (request.Revision == 0)
            {
                Remember(request, response);
            }
        }

        /// <summary>Remembers the keys a read at the newest revision covered: their versions, or that they are absent.</summary>
        private void Remember(Rpc.RangeRequest request, Rpc.RangeResponse response)
        {
            var covered = request.RangeEnd.IsEmpty
                ? [KeyIndex(request.Key.ToStringUtf8())]
                : Enumerable.Range(0, Keys).Where(i => !response.More || string.CompareOrdinal(Key(i), response.Kvs[^1].Key.ToStringUtf8()) <= 0).ToList();
            foreach (var index in covered)
            {
                _seen[index] = null;
            }
            foreach (var kv in response.Kvs)
            {
                _seen[KeyIndex(kv.Key.ToStringUtf8())] = kv;
            }
        }

        private int KeyIndex(string key) => int.Parse(key.AsSpan(KeyPrefix.Length), System.Globalization.CultureInfo.InvariantCulture);

        private async Task PutAsync(long lease)
        {
            var request = Etcd.Put(Key(Random.Next(Keys)), _values.Next());
            request.Lease = lease;
            request.PrevKv = Choose.OneIn(Random, 3);
            var response = await client.PutAsync(request);
            if (response is not null)
            {
                Saw(response.Header);
            }
        }

        private async Task PutWithLeaseAsync()
        {
            var lease = await _leases.ForWriteAsync();
            if (lease != 0)
            {
                await PutAsync(lease);
            }
        }

        private async Task DeleteAsync(Rpc.DeleteRangeRequest request)
        {
            request.PrevKv = Choose.OneIn(Random, 3);
            var response = await client.DeleteAsync(request);
            if (response is not null)
            {
                Saw(response.Header);
            }
        }

        /// <summary>Deletes [k{a}, k{b}) for 1 to 3 keys, or, one time in five, every key.</summary>
        private Task DeleteIntervalAsync()
        {
            var from = Choose.OneIn(Random, 5) ? 0 : Random.Next(Keys);
            var to = from == 0 ? Keys : Math.Min(Keys, from + Random.Next(1, 4));
            return DeleteAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(Key(from)), RangeEnd = IntervalEnd(to) });
        }

        private async Task TxnAsync()
        {
            var request = new Rpc.TxnRequest();
            var compared = Choose.Permutation(Random, Keys);
            var compares = Random.Next(2, 4);
            for (var i = 0; i < compares; i++)
            {
                request.Compare.Add(Compare(compared[i]));
            }
            request.Success.AddRange(Branch(minOps: 1));
            request.Failure.AddRange(Branch(minOps: 0));
            var response = await client.TxnAsync(request);
            if (response is not null)
            {
                Saw(response.Header);
            }
        }

        /// <summary>
        /// A compare of key <paramref name="index"/> with a random target: half of the time against what the client
        /// last saw of the key, mostly for equality (which holds unless the key changed since), otherwise against a
        /// random operand with any result.
        /// </summary>
        private Rpc.Compare Compare(int index)
        {
            var seen = _seen.GetValueOrDefault(index);
            var fromSeen = Choose.OneIn(Random, 2);
            var compare = new Rpc.Compare
            {
                Key = Etcd.Bytes(Key(index)),
                Result = fromSeen && !Choose.OneIn(Random, 3) ? Rpc.Compare.Types.CompareResult.Equal : (Rpc.Compare.Types.CompareResult)Random.Next(4),
                Target = (Rpc.Compare.Types.CompareTarget)Random.Next(4),
            };
            switch (compare.Target)
            {
                case Rpc.Compare.Types.CompareTarget.Version:
                    compare.Version = fromSeen ? seen?.Version ?? 0 : Random.Next(4);
                    break;
                case Rpc.Compare.Types.CompareTarget.Create:
                    compare.CreateRevision = fromSeen ? seen?.CreateRevision ?? 0 : Random.NextInt64(_latest + 1);
                    break;
                case Rpc.Compare.Types.CompareTarget.Mod:
                    compare.ModRevision = fromSeen ? seen?.ModRevision ?? 0 : Random.NextInt64(_latest + 1);
                    break;
                default:
                    compare.Value = fromSeen && seen is not null ? seen.Value : Etcd.Bytes($"c{Random.Next(Keys)}");
                    break;
            }
            return compare;
        }

        /// <summary>
        /// <paramref name="minOps"/> to 3 operations, each on a key of its own (a transaction may not write a key
        /// twice, and distinct keys keep it so).
        /// </summary>
        private IEnumerable<Rpc.RequestOp> Branch(int minOps)
        {
            var keys = Choose.Permutation(Random, Keys);
            var count = Random.Next(minOps, 4);
            var ops = new List<Rpc.RequestOp>(count);
            for (var i = 0; i < count; i++)
            {
                var key = Key(keys[i]);
                ops.Add(Choose.Weighted(Random, TxnOps) switch
                {
                    OpKind.Range => new Rpc.RequestOp { RequestRange = Etcd.Get(key) },
                    OpKind.Put => new Rpc.RequestOp { RequestPut = Etcd.Put(key, _values.Next()) },
                    _ => new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(key), PrevKv = Choose.OneIn(Random, 3) } },
                });
            }
            return ops;
        }

        /// <summary>
        /// Compacts to a revision <see cref="CompactionLag"/> to twice that behind the newest the client saw, capped
        /// by the ceiling; skipped if that is not above the client's previous compaction.
        /// </summary>
        public async Task CompactAsync()
        {
            var revision = _latest - CompactionLag - Random.Next(CompactionLag);
            if (compactionCeiling is not null)
            {
                revision = Math.Min(revision, compactionCeiling());
            }
            if (revision < 1 || revision <= _compacted)
            {
                return;
            }
            var response = await client.CompactAsync(new Rpc.CompactionRequest { Revision = revision, Physical = Choose.OneIn(Random, 4) });
            if (response is not null)
            {
                _compacted = revision;
                Saw(response.Header);
            }
        }
    }
}
