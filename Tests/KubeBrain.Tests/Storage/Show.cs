using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Tests.Storage;

/// <summary>Renders store results as strings, so that assertions compare every field and failures read well.</summary>
internal static class Show
{
    public static List<string> Rows(IEnumerable<StoredRow> rows) => [.. rows.Select(Row)];

    public static string Kv(KeyValue kv) =>
        $"{Hex(kv.Key)} create={kv.CreateRevision} mod={kv.ModRevision} version={kv.Version} lease={kv.Lease} value={Hex(kv.Value)}";

    public static string Row(StoredRow row) =>
        $"{row.Revision}.{row.Sub} {Hex(row.Key)} create={row.CreateRevision} version={row.Version} lease={row.Lease} "
        + $"value={Hex(row.Value)} tombstone={row.Tombstone} prev={row.PrevRevision} range={row.RangeId}#{row.RangeEpoch}";

    public static string Range(RangeResult result) =>
        $"{result.Status} count={result.Count} more={result.More} [{string.Join("; ", result.Kvs.Select(Kv))}]";

    /// <summary>The keys as hex, comma-separated.</summary>
    public static string Keys(RangeResult result) => string.Join(",", result.Kvs.Select(kv => Hex(kv.Key)));

    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes);
}
