using System.Globalization;
using Google.Protobuf;
using KubeBrain.Tests.Watch;
using Xunit;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

public class LinearizabilityCheckerTests
{
    private static readonly ByteString All = ByteString.CopyFrom(0);

    private readonly Log _log = new();
    private readonly List<Operation> _ops = [];

    [Fact]
    public void CleanConcurrentHistoryPasses()
    {
        var a = _log.Put("a", "1");
        var b = _log.Put("b", "1");
        _log.Delete("a");
        var b2 = _log.Put("b", "2");
        Put(1, 0, 10, "a", "1", 1);
        Put(2, 5, 15, "b", "1", 2);
        Get(3, 8, 12, "a", 1, a);
        Ok(1, 20, 30, new Rpc.DeleteRangeRequest { Key = B("a"), PrevKv = true }, new Rpc.DeleteRangeResponse { Header = H(3), Deleted = 1, PrevKvs = { a } });
        Ok(2, 25, 35, new Rpc.DeleteRangeRequest { Key = B("a") }, new Rpc.DeleteRangeResponse { Header = H(3) });
        Ok(3, 16, 40, new Rpc.RangeRequest { Key = B("a"), RangeEnd = All, Limit = 1 }, new Rpc.RangeResponse { Header = H(3), Kvs = { b }, Count = 1 });
        var txn = new Rpc.TxnRequest
        {
            Compare = { new Rpc.Compare { Key = B("b"), Target = Rpc.Compare.Types.CompareTarget.Version, Version = 1 } },
            Success = { new Rpc.RequestOp { RequestTxn = new Rpc.TxnRequest { Success = { new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B("b"), Value = B("2"), PrevKv = true } } } } } },
        };
        var nested = new Rpc.TxnResponse { Succeeded = true, Responses = { new Rpc.ResponseOp { ResponsePut = new Rpc.PutResponse { PrevKv = b } } } };
        Ok(1, 36, 50, txn, new Rpc.TxnResponse { Header = H(4), Succeeded = true, Responses = { new Rpc.ResponseOp { ResponseTxn = nested } } });
        Get(2, 51, 60, "b", 4, b2);
        Assert.Empty(Check());
    }

    [Fact]
    public void StaleReadIsCaught()
    {
        var a1 = _log.Put("a", "1");
        _log.Put("a", "2");
        Put(1, 0, 10, "a", "1", 1);
        Put(1, 20, 30, "a", "2", 2);
        var read = Get(2, 40, 50, "a", 1, a1);
        Assert.Contains(Check(), p => p.StartsWith($"op #{read.Id} (client 2", StringComparison.Ordinal) && p.Contains("backwards", StringComparison.Ordinal));
    }

    [Fact]
    public void SerializableReadMayLag()
    {
        var a1 = _log.Put("a", "1");
        _log.Put("a", "2");
        Put(1, 0, 10, "a", "1", 1);
        Put(1, 20, 30, "a", "2", 2);
        Ok(2, 40, 50, new Rpc.RangeRequest { Key = B("a"), Serializable = true }, new Rpc.RangeResponse { Header = H(1), Kvs = { a1 }, Count = 1 });
        Assert.Empty(Check());
    }

    [Fact]
    public void ReadBelowACompactionThatHadReturnedIsCaught()
    {
        var a1 = _log.Put("a", "1");
        var a2 = _log.Put("a", "2");
        Put(1, 0, 10, "a", "1", 1);
        Put(1, 11, 20, "a", "2", 2);
        Ok(1, 21, 30, new Rpc.CompactionRequest { Revision = 2 }, new Rpc.CompactionResponse { Header = H(2) });
        Ok(2, 25, 35, new Rpc.RangeRequest { Key = B("a"), Revision = 1 }, new Rpc.RangeResponse { Header = H(2), Kvs = { a1 }, Count = 1 });
        var late = Ok(2, 40, 50, new Rpc.RangeRequest { Key = B("a"), Revision = 1 }, new Rpc.RangeResponse { Header = H(2), Kvs = { a1 }, Count = 1 });
        Ok(2, 51, 60, new Rpc.RangeRequest { Key = B("a"), Revision = 2 }, new Rpc.RangeResponse { Header = H(2), Kvs = { a2 }, Count = 1 });
        Assert.Equal([late.Id], Check().Select(p => int.Parse(p[4..p.IndexOf(' ', 4)], CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void LostAcknowledgedWriteIsCaught()
    {
        _log.Put("a", "1");
        _log.Put("a", "2");
        Put(1, 0, 10, "a", "1", 1);
        Unknown(3, 5, new Rpc.PutRequest { Key = B("a"), Value = B("2") });
        var lost = Put(2, 20, 30, "a", "lost", 2);
        Assert.Contains(Check(), p => p.StartsWith($"op #{lost.Id} ", StringComparison.Ordinal) && p.Contains("a=2", StringComparison.Ordinal));
    }

    [Fact]
    public void PhantomRevisionIsCaught()
    {
        _log.Put("a", "1");
        _log.Put("b", "9");
        Put(1, 0, 10, "a", "1", 1);
        Assert.Contains(Check(), p => p.StartsWith("revision 2: phantom write [put b=9", StringComparison.Ordinal));
    }

    [Fact]
    public void ReadSeeingAFutureValueIsCaught()
    {
        var a = _log.Put("a", "1");
        Get(2, 0, 10, "a", 1, a);
        var write = Put(1, 20, 30, "a", "1", 1);
        Assert.Contains(Check(), p => p.StartsWith($"op #{write.Id} ", StringComparison.Ordinal) && p.Contains("wrote revision 1", StringComparison.Ordinal));
    }

    [Fact]
    public void TxnWhoseSucceededDisagreesWithTheComparesIsCaught()
    {
        _log.Put("a", "1");
        _log.Put("b", "1");
        Put(1, 0, 10, "a", "1", 1);
        var txn = new Rpc.TxnRequest
        {
            Compare = { new Rpc.Compare { Key = B("a"), Target = Rpc.Compare.Types.CompareTarget.Version, Version = 2 } },
            Success = { new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B("b"), Value = B("1") } } },
        };
        var op = Ok(2, 20, 30, txn, new Rpc.TxnResponse { Header = H(2), Succeeded = true, Responses = { new Rpc.ResponseOp { ResponsePut = new() } } });
        Assert.Contains(Check(), p => p.Contains($"op #{op.Id} ", StringComparison.Ordinal) && p.Contains("failed []", StringComparison.Ordinal));
    }

    [Fact]
    public void RevisionsGoingBackwardsBetweenClientsAreCaught()
    {
        _log.Put("a", "1");
        _log.Put("b", "1");
        Put(1, 0, 10, "b", "1", 2);
        var later = Put(2, 20, 30, "a", "1", 1);
        Assert.Contains(Check(), p => p.StartsWith($"op #{later.Id} (client 2", StringComparison.Ordinal) && p.Contains("backwards", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownPutThatAppliedPasses()
    {
        var a = _log.Put("a", "1");
        Unknown(1, 0, new Rpc.PutRequest { Key = B("a"), Value = B("1") });
        Get(2, 20, 30, "a", 1, a);
        Assert.Empty(Check());
    }

    [Fact]
    public void UnknownPutThatDidNotApplyPasses()
    {
        Unknown(1, 0, new Rpc.PutRequest { Key = B("a"), Value = B("1") });
        Get(2, 20, 30, "a", 0, null);
        Assert.Empty(Check());
    }

    [Fact]
    public void LeaseRevokeAndExpiryDeleteAllTheLeaseKeysInOneRevisionAndPass()
    {
        var a = _log.Put("a", "1", lease: 7);
        _log.Put("b", "1", lease: 7);
        _log.Put("c", "1", lease: 8);
        _log.Delete("a", "b");
        _log.Delete("c");
        Put(1, 0, 10, "a", "1", 1, lease: 7);
        Put(1, 11, 20, "b", "1", 2, lease: 7);
        Put(1, 21, 30, "c", "1", 3, lease: 8);
        Get(2, 31, 40, "a", 3, a);
        Ok(1, 41, 50, new Rpc.LeaseRevokeRequest { ID = 7 }, new Rpc.LeaseRevokeResponse { Header = H(4) });
        Get(2, 51, 60, "a", 5, null);
        Assert.Empty(Check());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ARevokeRacingADeleteOfItsOnlyKey_ReadsAfterTheDelete_WhicheverWasSentFirst(bool deleteFirst)
    {
        _log.Put("a", "1", lease: 7);
        _log.Delete("a");
        Put(1, 0, 10, "a", "1", 1, lease: 7);
        var delete = new Rpc.DeleteRangeRequest { Key = B("a") };
        var revoke = new Rpc.LeaseRevokeRequest { ID = 7 };
        Ok(2, deleteFirst ? 20 : 21, 30, delete, new Rpc.DeleteRangeResponse { Header = H(2), Deleted = 1 });
        Ok(3, deleteFirst ? 21 : 20, 30, revoke, new Rpc.LeaseRevokeResponse { Header = H(2) });
        Assert.Empty(Check());
    }

    [Fact]
    public void RevisionDeletingOnlySomeOfALeaseKeysIsCaught()
    {
        _log.Put("a", "1", lease: 7);
        _log.Put("b", "1", lease: 7);
        _log.Delete("a");
        Put(1, 0, 10, "a", "1", 1, lease: 7);
        Put(1, 11, 20, "b", "1", 2, lease: 7);
        Assert.Equal(["revision 3: phantom write [delete a]: no acknowledged write claims it, and no unknown-outcome write, lease revoke or lease expiry explains it"], Check());
    }

    [Fact]
    public void RangeWithWrongLimitMoreOrCountIsCaught()
    {
        var a = _log.Put("a", "1");
        _log.Put("b", "1");
        Put(1, 0, 10, "a", "1", 1);
        Put(1, 11, 20, "b", "1", 2);
        var range = new Rpc.RangeRequest { Key = B("a"), RangeEnd = All, Limit = 1 };
        var good = Ok(2, 21, 30, range, new Rpc.RangeResponse { Header = H(2), Kvs = { a }, Count = 2, More = true });
        var noMore = Ok(2, 31, 40, range, new Rpc.RangeResponse { Header = H(2), Kvs = { a }, Count = 2 });
        var badCount = Ok(2, 41, 50, range, new Rpc.RangeResponse { Header = H(2), Kvs = { a }, Count = 1, More = true });
        var problems = Check();
        Assert.Equal(2, problems.Count);
        Assert.DoesNotContain(problems, p => p.StartsWith($"op #{good.Id} ", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith($"op #{noMore.Id} ", StringComparison.Ordinal) && p.Contains("count 2 more", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith($"op #{badCount.Id} ", StringComparison.Ordinal));
    }

    [Fact]
    public void UnmodeledRequestShapesAreReportedAsUnsupported()
    {
        Ok(1, 0, 10, new Rpc.RangeRequest { Key = B("a"), SortTarget = Rpc.RangeRequest.Types.SortTarget.Value }, new Rpc.RangeResponse { Header = H(0) });
        Assert.Contains(Check(), p => p.Contains("unsupported", StringComparison.Ordinal));
    }

    [Fact]
    public void ALongInterleavedHistoryOfPutsAndReadsPasses()
    {
        for (var i = 0; i < 3000; i++)
        {
            var key = $"k{i % 20}";
            var kv = _log.Put(key, $"v{i}");
            Put(i % 4, i * 10, i * 10 + 15, key, $"v{i}", kv.ModRevision);
            Get(4 + i % 4, i * 10 + 5, i * 10 + 12, key, kv.ModRevision, kv);
        }
        Assert.Empty(Check());
    }

    private List<string> Check() => LinearizabilityChecker.Check(_ops, _log.History, new Dictionary<ByteString, Mvcc.KeyValue>());

    private Operation Ok(int client, long invoke, long ret, IMessage request, IMessage response) =>
        Add(new Operation(_ops.Count + 1, client, $"f{client % 2}", invoke, ret, request, response, Outcome.Ok, null));

    private Operation Unknown(int client, long invoke, IMessage request) =>
        Add(new Operation(_ops.Count + 1, client, $"f{client % 2}", invoke, long.MaxValue, request, null, Outcome.Unknown, "Unavailable"));

    private Operation Put(int client, long invoke, long ret, string key, string value, long revision, long lease = 0) =>
        Ok(client, invoke, ret, new Rpc.PutRequest { Key = B(key), Value = B(value), Lease = lease }, new Rpc.PutResponse { Header = H(revision) });

    private Operation Get(int client, long invoke, long ret, string key, long revision, Mvcc.KeyValue? kv)
    {
        var response = new Rpc.RangeResponse { Header = H(revision), Count = kv is null ? 0 : 1 };
        if (kv is not null)
        {
            response.Kvs.Add(kv);
        }
        return Ok(client, invoke, ret, new Rpc.RangeRequest { Key = B(key) }, response);
    }

    private Operation Add(Operation op)
    {
        _ops.Add(op);
        return op;
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static Rpc.ResponseHeader H(long revision) => new() { Revision = revision };

    /// <summary>A revision log built one revision at a time from an empty store.</summary>
    private sealed class Log
    {
        private readonly Dictionary<ByteString, Mvcc.KeyValue> _state = [];
        private readonly List<HistoryEvent> _events = [];
        private long _revision;

        public WatchHistory History => WatchHistory.Of(1, _revision, _events);

        public Mvcc.KeyValue Put(string key, string value, long lease = 0)
        {
            _revision++;
            var prev = _state.GetValueOrDefault(B(key));
            var kv = new Mvcc.KeyValue { Key = B(key), Value = B(value), Lease = lease, CreateRevision = prev?.CreateRevision ?? _revision, ModRevision = _revision, Version = (prev?.Version ?? 0) + 1 };
            _events.Add(new HistoryEvent(_revision, false, kv, prev));
            _state[kv.Key] = kv;
            return kv;
        }

        public void Delete(params string[] keys)
        {
            _revision++;
            foreach (var key in keys.Select(B))
            {
                _events.Add(new HistoryEvent(_revision, true, new Mvcc.KeyValue { Key = key, ModRevision = _revision }, _state[key]));
                _state.Remove(key);
            }
        }
    }
}
