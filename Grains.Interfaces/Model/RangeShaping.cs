namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// etcd's shaping of a range answer, applied after the keys are read: drop key-values outside the revision
/// bounds, sort (ascending by key needs no sort; a non-key target without an order sorts ascending), cut at the
/// limit and set <c>more</c>, clear values for keys-only. The count is the number of live keys in the span.
/// </summary>
public static class RangeShaping
{
    /// <summary>
    /// Shapes <paramref name="kvs"/> (ascending by key; all keys of the span when
    /// <see cref="RangeQuery.NeedsAllKeys"/>, else at least the first <see cref="RangeQuery.FetchLimit"/>).
    /// </summary>
    public static RangeResult Shape(RangeQuery query, IReadOnlyList<KeyValue> kvs, long count)
    {
        if (query.CountOnly)
        {
            return new RangeResult(KvStatus.Ok, [], count, false);
        }
        IEnumerable<KeyValue> shaped = kvs;
        if (query.MaxModRevision != 0)
        {
            shaped = shaped.Where(kv => kv.ModRevision <= query.MaxModRevision);
        }
        if (query.MinModRevision != 0)
        {
            shaped = shaped.Where(kv => kv.ModRevision >= query.MinModRevision);
        }
        if (query.MaxCreateRevision != 0)
        {
            shaped = shaped.Where(kv => kv.CreateRevision <= query.MaxCreateRevision);
        }
        if (query.MinCreateRevision != 0)
        {
            shaped = shaped.Where(kv => kv.CreateRevision >= query.MinCreateRevision);
        }
        var list = shaped.ToList();
        var order = query.SortOrder;
        if (query.SortTarget != RangeSortTarget.Key && order == RangeSortOrder.None)
        {
            order = RangeSortOrder.Ascend;
        }
        else if (query.SortTarget == RangeSortTarget.Key && order == RangeSortOrder.Ascend)
        {
            order = RangeSortOrder.None;
        }
        if (order != RangeSortOrder.None)
        {
            Comparison<KeyValue> compare = query.SortTarget switch
            {
                RangeSortTarget.Version => (a, b) => a.Version.CompareTo(b.Version),
                RangeSortTarget.Create => (a, b) => a.CreateRevision.CompareTo(b.CreateRevision),
                RangeSortTarget.Mod => (a, b) => a.ModRevision.CompareTo(b.ModRevision),
                RangeSortTarget.Value => (a, b) => a.Value.AsSpan().SequenceCompareTo(b.Value),
                _ => (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key),
            };
            var sorted = order == RangeSortOrder.Descend ? list.OrderByDescending(kv => kv, Comparer<KeyValue>.Create(compare)) : list.OrderBy(kv => kv, Comparer<KeyValue>.Create(compare));
            list = [.. sorted];
        }
        var more = false;
        if (query.Limit > 0 && list.Count > query.Limit)
        {
            list.RemoveRange((int)query.Limit, list.Count - (int)query.Limit);
            more = true;
        }
        if (query.KeysOnly)
        {
            for (var i = 0; i < list.Count; i++)
            {
                list[i] = list[i] with { Value = [] };
            }
        }
        return new RangeResult(KvStatus.Ok, list, count, more);
    }
}
