using System.Globalization;
using System.Text;
using Google.Protobuf;
using KubeBrain.Silo;
using KubeBrain.Tests.Wire;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Result = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareResult;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using SortOrder = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortOrder;
using SortTarget = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortTarget;
using Target = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareTarget;

namespace KubeBrain.Tests.Differential;

/// <summary>
/// One scripted scenario replayed against a fresh real etcd 3.4 and a fresh KubeBrain, so revisions line up from 1:
/// every response (or gRPC status code and message) must be identical, field by field, except the header fields
/// that differ between any two etcd members (cluster_id, member_id, raft_term).
/// </summary>
public sealed class EtcdDifferentialTests
{
    /// <summary>One request of the scenario; the comment after each step is the revision after it.</summary>
    public sealed record Step(string Name, IMessage Request);

    private static readonly ByteString Zero = FromKey;

    private static Rpc.RangeRequest Range(string key, string? end = null) =>
        new() { Key = B(key), RangeEnd = end is null ? ByteString.Empty : B(end) };

    private static Rpc.RangeRequest PrefixP => Range("/p/", "/p0");

    private static Rpc.RangeRequest Sorted(SortTarget target, SortOrder order)
    {
        // a: version 3, create 3, mod 10, "a3"; b: version 2, create 4, mod 9, "b2"; c: version 1, create 2, mod 2, "c1".
        var request = Range("/p/a", "/p/d");
        request.SortTarget = target;
        request.SortOrder = order;
        return request;
    }

    private static Rpc.Compare Over(Rpc.Compare compare, string end)
    {
        compare.RangeEnd = B(end);
        return compare;
    }

    private static Rpc.RequestOp RangeOp(Rpc.RangeRequest range) => new() { RequestRange = range };

    private static Rpc.RequestOp PutOp(Rpc.PutRequest put) => new() { RequestPut = put };

    private static Rpc.RequestOp DeleteOp(Rpc.DeleteRangeRequest delete) => new() { RequestDeleteRange = delete };

    private static Rpc.CompactionRequest Compact(long revision, bool physical = false) => new() { Revision = revision, Physical = physical };

    public static IReadOnlyList<Step> Script() =>
    [
        new("range on the empty store", Range("/p/a")), // 1
        new("count on the empty store", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true }),
        new("first write is revision 2", Put("/p/c", "c1")), // 2
        new("put prev_kv on a new key", new Rpc.PutRequest { Key = B("/p/a"), Value = B("a1"), PrevKv = true }), // 3
        new("put /p/b", Put("/p/b", "b1")), // 4
        new("overwrite with prev_kv", new Rpc.PutRequest { Key = B("/p/a"), Value = B("a2"), PrevKv = true }), // 5
        new("put /p/d", Put("/p/d", "d1")), // 6
        new("put the prefix end /p0", Put("/p0", "x")), // 7
        new("put /q/x", Put("/q/x", "q")), // 8
        new("overwrite /p/b", Put("/p/b", "b2")), // 9
        new("overwrite /p/a again", Put("/p/a", "a3")), // 10
        new("range at revision 1", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Revision = 1 }),
        new("range single key", Range("/p/a")),
        new("range half-open interval", Range("/p/b", "/p/d")),
        new("range prefix", PrefixP),
        new("range from key", new Rpc.RangeRequest { Key = B("/p/c"), RangeEnd = Zero }),
        new("range every key", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero }),
        new("limit below count sets more", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Limit = 2 }),
        new("limit equal to count", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Limit = 4 }),
        new("count_only", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true }),
        new("keys_only", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), KeysOnly = true }),
        new("count_only with limit", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true, Limit = 1 }),
        new("historical single key", new Rpc.RangeRequest { Key = B("/p/a"), Revision = 3 }),
        new("historical prefix", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Revision = 5 }),
        new("future revision", new Rpc.RangeRequest { Key = B("/p/a"), Revision = 100 }),
        new("range with an empty key", new Rpc.RangeRequest { RangeEnd = B("/p0") }),
        new("sort key descend", Sorted(SortTarget.Key, SortOrder.Descend)),
        new("sort version ascend", Sorted(SortTarget.Version, SortOrder.Ascend)),
        new("sort version descend", Sorted(SortTarget.Version, SortOrder.Descend)),
        new("sort create ascend", Sorted(SortTarget.Create, SortOrder.Ascend)),
        new("sort create descend", Sorted(SortTarget.Create, SortOrder.Descend)),
        new("sort mod ascend", Sorted(SortTarget.Mod, SortOrder.Ascend)),
        new("sort mod descend", Sorted(SortTarget.Mod, SortOrder.Descend)),
        new("sort value ascend", Sorted(SortTarget.Value, SortOrder.Ascend)),
        new("sort value descend", Sorted(SortTarget.Value, SortOrder.Descend)),
        new("sort target create without order", Sorted(SortTarget.Create, SortOrder.None)),
        new("sort with limit", new Rpc.RangeRequest { Key = B("/p/a"), RangeEnd = B("/p/d"), SortTarget = SortTarget.Create, SortOrder = SortOrder.Descend, Limit = 1 }),
        new("sort target without order, with limit", new Rpc.RangeRequest { Key = B("/p/a"), RangeEnd = B("/p/d"), SortTarget = SortTarget.Create, Limit = 1 }),
        new("sort value descend, keys only", new Rpc.RangeRequest { Key = B("/p/a"), RangeEnd = B("/p/d"), SortTarget = SortTarget.Value, SortOrder = SortOrder.Descend, KeysOnly = true }),
        new("keys_only with limit", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), KeysOnly = true, Limit = 3 }),
        new("count_only with min_mod_revision", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true, MinModRevision = 6 }),
        new("count_only at a historical revision", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true, Revision = 5 }),
        new("negative limit", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Limit = -1 }),
        new("negative revision reads the latest", new Rpc.RangeRequest { Key = B("/p/a"), Revision = -5 }),
        new("range_end before key", Range("/p/z", "/p/a")),
        new("serializable", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Serializable = true }),
        new("min_mod_revision", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), MinModRevision = 6 }),
        new("max_mod_revision", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), MaxModRevision = 6 }),
        new("create revision window", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), MinCreateRevision = 3, MaxCreateRevision = 4 }),
        new("mod filter with limit", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), MinModRevision = 6, Limit = 1 }),
        new("put ignore_value", new Rpc.PutRequest { Key = B("/p/c"), IgnoreValue = true, PrevKv = true }), // 11
        new("put ignore_lease", new Rpc.PutRequest { Key = B("/p/d"), Value = B("d2"), IgnoreLease = true }), // 12
        new("ignore_lease on a missing key", new Rpc.PutRequest { Key = B("/p/zz"), Value = B("z"), IgnoreLease = true }),
        new("ignore_value with a value", new Rpc.PutRequest { Key = B("/p/c"), Value = B("x"), IgnoreValue = true }),
        new("ignore_lease with a lease", new Rpc.PutRequest { Key = B("/p/c"), Value = B("x"), IgnoreLease = true, Lease = 5 }),
        new("put with a lease that does not exist", new Rpc.PutRequest { Key = B("/p/c"), Value = B("x"), Lease = 12345 }),
        new("put with an empty key", new Rpc.PutRequest { Value = B("x") }),
        new("read after the ignore flags", Range("/p/c", "/p/e")),
        new("delete nothing", Delete("/p/zz")),
        new("delete with prev_kv", new Rpc.DeleteRangeRequest { Key = B("/q/x"), PrevKv = true }), // 13
        new("txn of six puts is one revision", Txn([], [
            OpPut("/r/1", "1"), OpPut("/r/2", "2"), OpPut("/r/3", "3"),
            OpPut("/r/4", "4"), OpPut("/s/1", "1"), OpPut("/s/2", "2"),
        ])), // 14
        new("delete half-open range with prev_kv", new Rpc.DeleteRangeRequest { Key = B("/r/2"), RangeEnd = B("/r/4"), PrevKv = true }), // 15
        new("delete prefix", new Rpc.DeleteRangeRequest { Key = B("/s/"), RangeEnd = B("/s0") }), // 16
        new("history before the deletes", new Rpc.RangeRequest { Key = B("/r/"), RangeEnd = B("/r0"), Revision = 14 }),
        new("delete with an empty key", new Rpc.DeleteRangeRequest { RangeEnd = B("/z") }),
        new("read-only txn, every compare target holds", Txn(
            [
                Cmp("/p/a", Target.Version, Result.Equal, 3), Cmp("/p/c", Target.Create, Result.Less, 3),
                Cmp("/p/b", Target.Mod, Result.Greater, 8), CmpValue("/p/a", Result.Equal, "a3"), Cmp("/p/a", Target.Lease, Result.Equal, 0),
            ],
            [OpGet("/p/a")])),
        new("compare operand of another target counts as zero", Txn(
            [new Rpc.Compare { Key = B("/p/a"), Target = Target.Mod, Result = Result.Greater, Version = 1000 }],
            [OpGet("/p/a")],
            [OpGet("/p/b")])),
        new("compare without an operand counts as zero", Txn([new Rpc.Compare { Key = B("/p/a"), Target = Target.Version, Result = Result.Greater }], [OpGet("/p/a")])),
        new("compare from key", Txn([new Rpc.Compare { Key = B("/p/"), RangeEnd = Zero, Target = Target.Version, Result = Result.Greater, Version = 0 }], [OpGet("/p/a")])),
        new("compare on a deleted key compares a zero key-value", Txn([Cmp("/q/x", Target.Version, Result.Equal, 0), Cmp("/q/x", Target.Mod, Result.Equal, 0)], [OpGet("/q/x")])),
        new("compare with an unknown result", Txn([new Rpc.Compare { Key = B("/p/a"), Target = Target.Version, Result = (Result)9, Version = 1 }], [OpGet("/p/a")], [OpGet("/p/b")])),
        new("compare with an unknown target", Txn([new Rpc.Compare { Key = B("/p/a"), Target = (Target)9, Result = Result.Equal }], [OpGet("/p/a")], [OpGet("/p/b")])),
        new("txn with an empty op", Txn([], [new Rpc.RequestOp()])),
        new("failed txn runs the failure reads", Txn([Cmp("/p/a", Target.Version, Result.NotEqual, 3)], [OpPut("/p/never", "n")], [OpGet("/p/b")])),
        new("write txn with every op kind and a nested txn", Txn(
            [Cmp("/p/missing", Target.Mod, Result.Equal, 0)],
            [
                OpPut("/p/e", "e1"), OpGet("/p/e"), DeleteOp(new Rpc.DeleteRangeRequest { Key = B("/r/1"), PrevKv = true }),
                OpTxn(Txn([CmpValue("/p/missing", Result.Equal, "")], [OpPut("/t/1", "s")], [OpPut("/t/1", "f"), OpGet("/t/1")])),
            ])), // 17
        new("value compare on a missing key fails", Txn([CmpValue("/p/missing", Result.NotEqual, "x")], [OpPut("/p/f", "f")])),
        new("compare over a range holds", Txn(
            [Over(Cmp("/p/a", Target.Version, Result.Greater, 0), "/p/e")],
            [DeleteOp(new Rpc.DeleteRangeRequest { Key = B("/t/1"), PrevKv = true }), OpPut("/t/2", "2")])), // 18
        new("compare over a range fails", Txn(
            [Over(Cmp("/p/a", Target.Version, Result.Equal, 1), "/p/e")],
            [OpPut("/p/never", "n")],
            [RangeOp(new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), CountOnly = true })])),
        new("create compare fails, failure branch writes", Txn(
            [Cmp("/p/a", Target.Create, Result.Greater, 3)],
            [OpGet("/p/a")],
            [PutOp(new Rpc.PutRequest { Key = B("/p/a"), Value = B("a4"), PrevKv = true })])), // 19
        new("lease compare fails, empty failure branch", Txn([Cmp("/p/a", Target.Lease, Result.Greater, 0)], [OpPut("/p/never", "n")])),
        new("value less and mod less hold", Txn(
            [CmpValue("/p/b", Result.Less, "b3"), Cmp("/p/b", Target.Mod, Result.Less, 100)],
            [OpPut("/p/b", "b3"), OpGet("/p/b")])), // 20
        new("value greater on an equal value fails", Txn(
            [CmpValue("/p/b", Result.Greater, "b3")],
            [OpGet("/p/b")],
            [RangeOp(new Rpc.RangeRequest { Key = B("/p/b"), KeysOnly = true })])),
        new("nested compare sees the store before the txn", Txn([], [
            OpPut("/u/flag", "new"),
            OpTxn(Txn([Cmp("/u/flag", Target.Mod, Result.Equal, 0)], [OpPut("/u/saw", "before")], [OpPut("/u/saw", "after")])),
        ])), // 21
        new("129 ops", Txn([], [.. Enumerable.Range(0, 129).Select(i => OpPut($"/w/{i:D3}", "v"))])),
        new("128 range ops", Txn([], [.. Enumerable.Range(0, 128).Select(_ => OpGet("/p/a"))])),
        new("duplicate put keys", Txn([], [OpPut("/w/k", "1"), OpPut("/w/k", "2")])),
        new("put inside a deleted range", Txn([], [OpDelete("/w/", "/w0"), OpPut("/w/k", "1")])),
        new("put in the txn and in a nested txn", Txn([], [OpPut("/w/k", "1"), OpTxn(Txn([], [], [OpPut("/w/k", "2")]))])),
        new("same key in both nested branches, overlapping deletes", Txn([], [
            OpDelete("/r/", "/r0"), OpDelete("/r/4"),
            OpTxn(Txn([Cmp("/u/flag", Target.Version, Result.Equal, 1)], [OpPut("/v/1", "then")], [OpPut("/v/1", "else")])),
        ])), // 22
        new("txn put with a lease that does not exist", Txn([], [PutOp(new Rpc.PutRequest { Key = B("/w/k"), Value = B("v"), Lease = 777 })])),
        new("txn ignore_value on a missing key", Txn([], [PutOp(new Rpc.PutRequest { Key = B("/w/k"), IgnoreValue = true })])),
        new("request too large", new Rpc.PutRequest { Key = B("/big"), Value = ByteString.CopyFrom(new byte[1_677_722]) }),
        new("compact in the future", Compact(100)),
        new("compact", Compact(10)),
        new("compact at the compaction revision", Compact(10)),
        new("compact below the compaction revision", Compact(5)),
        new("read below the compaction revision", new Rpc.RangeRequest { Key = B("/p/a"), Revision = 9 }),
        new("read at the compaction revision", new Rpc.RangeRequest { Key = B("/p/a"), Revision = 10 }),
        new("prefix at the compaction revision", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Revision = 10 }),
        new("deleted key at a kept revision", new Rpc.RangeRequest { Key = B("/q/x"), Revision = 12 }),
        new("physical compact at the current revision", Compact(22, physical: true)),
        new("read below the physical compaction", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Revision = 21 }),
        new("read at the physical compaction", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Revision = 22 }),
        new("delete from key with prev_kv", new Rpc.DeleteRangeRequest { Key = B("/t/"), RangeEnd = Zero, PrevKv = true }), // 23
        new("every key, keys only", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, KeysOnly = true }),
        new("put after compaction", new Rpc.PutRequest { Key = B("/p/a"), Value = B("a5"), PrevKv = true }), // 24
        new("apiserver health probe", Range("/registry/health")),
        new("apiserver create", Txn([Cmp("/registry/pods/default/web", Target.Mod, Result.Equal, 0)], [OpPut("/registry/pods/default/web", "pod")])), // 25
        new("apiserver get", new Rpc.RangeRequest { Key = B("/registry/pods/default/web"), Limit = 1 }),
        new("apiserver update conflict", Txn(
            [Cmp("/registry/pods/default/web", Target.Mod, Result.Equal, 24)],
            [OpPut("/registry/pods/default/web", "pod2")],
            [OpGet("/registry/pods/default/web")])),
        new("apiserver delete", Txn(
            [Cmp("/registry/pods/default/web", Target.Mod, Result.Equal, 25)],
            [OpDelete("/registry/pods/default/web")],
            [OpGet("/registry/pods/default/web")])), // 26
        new("apiserver list page", new Rpc.RangeRequest { Key = B("/p/"), RangeEnd = B("/p0"), Limit = 2, Revision = 26 }),
        new("apiserver continue page", new Rpc.RangeRequest { Key = B("/p/b\0"), RangeEnd = B("/p0"), Limit = 2, Revision = 26 }),
        new("apiserver resource version probe", new Rpc.RangeRequest { Key = B("/registry/pods"), Limit = 1 }),
        new("reads and an empty delete before and after the first write of a txn", Txn([], [
            OpGet("/p/b"), OpDelete("/p/nothing"), OpPut("/p/g", "g"), OpGet("/p/b"), OpDelete("/p/nothing2"),
        ])), // 27
        new("put prev_kv on a deleted key", new Rpc.PutRequest { Key = B("/q/x"), Value = B("again"), PrevKv = true }), // 28
        new("compact at revision 0 after a compaction", Compact(0)),
        new("delete every key", new Rpc.DeleteRangeRequest { Key = Zero, RangeEnd = Zero }), // 29
        new("every key after deleting everything", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero }),
        new("history survives deleting everything", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, CountOnly = true, Revision = 28 }),

        // Keys of several key ranges: /registry/<segment>/... keys are spread over one range per segment, every
        // other key (including /registry/health and /registry0) lives in the default range.
        new("put /registry/pods/default/a", Put("/registry/pods/default/a", "pa")), // 30
        new("put /registry/pods/kube-system/b", Put("/registry/pods/kube-system/b", "pb")), // 31
        new("put /registry/services/specs/default/s", Put("/registry/services/specs/default/s", "svc")), // 32
        new("put /registry/configmaps/default/c", Put("/registry/configmaps/default/c", "cm")), // 33
        new("overwrite /registry/pods/default/a", new Rpc.PutRequest { Key = B("/registry/pods/default/a"), Value = B("pa2"), PrevKv = true }), // 34
        new("put /registry/health", Put("/registry/health", "h")), // 35
        new("put /registry0", Put("/registry0", "edge")), // 36
        new("put /apple", Put("/apple", "x")), // 37
        new("put /registry/events/default/e", Put("/registry/events/default/e", "ev")), // 38
        new("overwrite /registry/pods/default/a again", Put("/registry/pods/default/a", "pa3")), // 39
        new("registry prefix over every range", Range("/registry/", "/registry0")),
        new("registry prefix count_only", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), CountOnly = true }),
        new("registry prefix limit 2", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), Limit = 2 }),
        new("registry prefix keys_only limit 3", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), KeysOnly = true, Limit = 3 }),
        new("every key over every range", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero }),
        new("from key over several ranges", new Rpc.RangeRequest { Key = B("/registry/pods/"), RangeEnd = Zero, KeysOnly = true }),
        new("interval starting between ranges", new Rpc.RangeRequest { Key = B("/registry/d"), RangeEnd = B("/registry/q"), KeysOnly = true }),
        new("sort create descend over ranges", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), SortTarget = SortTarget.Create, SortOrder = SortOrder.Descend }),
        new("sort mod ascend over ranges with limit", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), SortTarget = SortTarget.Mod, SortOrder = SortOrder.Ascend, Limit = 3 }),
        new("sort value descend over ranges, keys only", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), SortTarget = SortTarget.Value, SortOrder = SortOrder.Descend, KeysOnly = true }),
        new("sort target mod without order over ranges, with limit", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), SortTarget = SortTarget.Mod, Limit = 2 }),
        new("mod filter over ranges with limit", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), MinModRevision = 33, Limit = 1 }),
        new("create window over ranges", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, MinCreateRevision = 31, MaxCreateRevision = 36, KeysOnly = true }),
        new("historical read over ranges", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), Revision = 33 }),
        new("historical count over every range", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, Revision = 36, CountOnly = true }),
        new("write txn over several ranges", Txn(
            [Cmp("/registry/pods/default/a", Target.Version, Result.Equal, 3), Cmp("/registry/services/specs/default/s", Target.Mod, Result.Equal, 32)],
            [
                OpPut("/registry/pods/default/new", "pn"), OpPut("/registry/configmaps/default/new", "cn"),
                DeleteOp(new Rpc.DeleteRangeRequest { Key = B("/registry/services/specs/default/s"), PrevKv = true }),
                RangeOp(new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), KeysOnly = true }),
            ])), // 40
        new("read-only txn with overlapping spans over ranges", Txn(
            [Cmp("/registry/pods/default/a", Target.Mod, Result.Greater, 0), Over(Cmp("/registry/", Target.Version, Result.Greater, 0), "/registry0")],
            [
                RangeOp(new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), CountOnly = true }),
                OpGet("/registry/pods/default/a"),
                RangeOp(new Rpc.RangeRequest { Key = B("/registry/pods/"), RangeEnd = B("/registry/pods0") }),
                RangeOp(new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, KeysOnly = true }),
            ])),
        new("failed txn over ranges", Txn(
            [CmpValue("/registry/configmaps/default/c", Result.Equal, "nope")],
            [OpPut("/registry/never/x", "n")],
            [RangeOp(new Rpc.RangeRequest { Key = B("/registry/pods/"), RangeEnd = B("/registry/pods0"), Limit = 1 }), OpGet("/registry/events/default/e")])),
        new("compare over ranges fails", Txn(
            [Over(Cmp("/registry/", Target.Version, Result.Equal, 1), "/registry0")],
            [OpPut("/registry/never/x", "n")],
            [OpGet("/registry0")])),
        new("delete across ranges with prev_kv", new Rpc.DeleteRangeRequest { Key = B("/registry/c"), RangeEnd = B("/registry/q"), PrevKv = true }), // 41
        new("every key after the delete across ranges", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero }),
        new("nested txn writing to several ranges", Txn(
            [Cmp("/registry/health", Target.Version, Result.Equal, 1)],
            [
                OpPut("/registry/leases/kube-system/l", "lease"),
                OpTxn(Txn([Cmp("/registry0", Target.Version, Result.Equal, 1)], [OpPut("/registry/secrets/default/x", "sx"), OpPut("/zeta", "z")], [OpPut("/registry/secrets/default/x", "no")])),
            ])), // 42
        new("duplicate key across ranges", Txn([], [OpPut("/registry/pods/default/z", "1"), OpDelete("/registry/", "/registry0")])),
        new("missing lease across ranges", Txn([], [OpPut("/registry/pods/default/p", "1"), PutOp(new Rpc.PutRequest { Key = B("/registry/services/specs/default/t"), Value = B("2"), Lease = 99 })])),
        new("ignore_value on a missing key across ranges", Txn([], [OpPut("/registry/pods/default/p", "1"), PutOp(new Rpc.PutRequest { Key = B("/registry/services/specs/default/t"), IgnoreValue = true })])),
        new("compact with several ranges", Compact(39)),
        new("read over ranges below the compaction", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), Revision = 38 }),
        new("read over ranges at the compaction", new Rpc.RangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0"), Revision = 39 }),
        new("single range read below the compaction", new Rpc.RangeRequest { Key = B("/registry/pods/default/a"), Revision = 34 }),
        new("count over every range after the compaction", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero, CountOnly = true, Revision = 40 }),
        new("txn over ranges after the compaction", Txn(
            [Cmp("/registry/leases/kube-system/l", Target.Create, Result.Equal, 42), Cmp("/zeta", Target.Mod, Result.Equal, 42)],
            [OpDelete("/registry/", "/registry0"), OpPut("/zeta", "z2")])), // 43
        new("compare on a value that holds, put with prev_kv", Txn(
            [CmpValue("/q/x", Result.Equal, "again")],
            [PutOp(new Rpc.PutRequest { Key = B("/q/x"), Value = B("v2"), PrevKv = true })],
            [OpGet("/q/x")])), // 44
        new("compare on a value that no longer holds", Txn([CmpValue("/q/x", Result.Equal, "again")], [OpPut("/q/x", "no")], [OpGet("/q/x")])),
        new("ignore_value keeps the value written before", new Rpc.PutRequest { Key = B("/q/x"), IgnoreValue = true, PrevKv = true }), // 45
        new("every key at the end", new Rpc.RangeRequest { Key = Zero, RangeEnd = Zero }),
    ];

    [Fact]
    public void Script_IsLongEnoughAndUniquelyNamed()
    {
        var script = Script();

        Assert.True(script.Count >= 60, $"{script.Count} steps");
        Assert.Equal(script.Count, script.Select(s => s.Name).Distinct().Count());
    }

    /// <summary>With a value cache of 0 every value a request needs is read back from the store.</summary>
    [Theory]
    [InlineData(StorageKind.Memory, 64)]
    [InlineData(StorageKind.Sqlite, 64)]
    [InlineData(StorageKind.Sqlite, 0)]
    public async Task KubeBrain_AnswersTheScriptExactlyAsEtcdDoes(StorageKind storage, int valueCacheMiB)
    {
        var script = Script();
        await using var etcd = await WireTarget.StartEtcdAsync();
        await using var kubeBrain = await WireTarget.StartKubeBrainAsync(o => o with { ValueCacheMiB = valueCacheMiB }, storage);

        var differences = new List<string>();
        for (var i = 0; i < script.Count; i++)
        {
            var step = script[i];
            var expected = await KvCalls.SendAsync(etcd.Kv, step.Request);
            var actual = await KvCalls.SendAsync(kubeBrain.Kv, step.Request);
            if (expected.Text != actual.Text || !Equals(expected.Response, actual.Response))
            {
                differences.Add($"step {i + 1} \"{step.Name}\"\n  request:   {ProtoText.Format(step.Request)}\n  etcd:      {expected.Text}\n  kubebrain: {actual.Text}");
            }
        }

        if (differences.Count > 0)
        {
            const int shown = 25;
            var report = new StringBuilder($"{differences.Count} of {script.Count} steps differ from etcd 3.4 ({storage} storage, value cache {valueCacheMiB} MiB):\n");
            report.AppendJoin("\n", differences.Take(shown));
            if (differences.Count > shown)
            {
                report.Append(CultureInfo.InvariantCulture, $"\n... and {differences.Count - shown} more");
            }
            Assert.Fail(report.ToString());
        }
    }
}
