using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>
/// The key index against a sorted model. Keys are short and random, so that spans start and end on present, absent,
/// first and last keys, and there are enough of them to split the index's chunks; they are inserted and removed in
/// random order, then all removed again, and all along every scan answers exactly the model's keys in order.
/// </summary>
public sealed class KeyIndexTests
{
    [Theory]
    [InlineData(1, 3_000)]
    [InlineData(2, 20_000)]
    [InlineData(3, 60_000)]
    public void ScansAnswerTheKeysOfTheSpanInOrderThroughInsertsAndRemovals(int seed, int operations)
    {
        var random = new Random(seed);
        var index = new KeyIndex();
        var model = new SortedSet<byte[]>(ByteKeyComparer.Instance);
        for (var op = 0; op < operations; op++)
        {
            var key = RandomKey(random);
            if (random.Next(3) == 0)
            {
                if (index.Find(key) is { } history)
                {
                    index.Remove(history);
                }
                model.Remove(key);
            }
            else
            {
                Assert.Same(index.GetOrAdd(key), index.GetOrAdd(key));
                model.Add(key);
            }
            if (op % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        var remaining = model.OrderBy(_ => random.Next()).ToList();
        for (var i = 0; i < remaining.Count; i++)
        {
            index.Remove(index.Find(remaining[i])!);
            model.Remove(remaining[i]);
            if (i % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        AssertSameKeys(index, model, random);
    }

    [Fact]
    public void AWalkRefusesToGoOnAfterTheIndexChanged()
    {
        var index = new KeyIndex();
        foreach (var name in new[] { "a", "b", "c" })
        {
            index.GetOrAdd([(byte)name[0]]);
        }
        var walk = index.Scan(new KeySpan("a"u8.ToArray(), [])).GetEnumerator();
        Assert.True(walk.MoveNext());
        index.GetOrAdd("bb"u8.ToArray());
        Assert.Throws<InvalidOperationException>(() => walk.MoveNext());
    }

    private static void AssertSameKeys(KeyIndex index, SortedSet<byte[]> model, Random random)
    {
        var span = RandomSpan(random);
        Assert.Equal(Hex(model.Where(k => span.Contains(k))), Hex(index.Scan(span).Select(h => h.Key)));
        Assert.Equal(Hex(model), Hex(index.All.Select(h => h.Key)));
        Assert.Equal(model.Count, index.Count);
    }

    /// <summary>A key of one to five bytes from a small alphabet, 0x00 and 0xff included.</summary>
    private static byte[] RandomKey(Random random)
    {
        byte[] alphabet = [0x00, 0x01, 0x41, 0x7f, 0x80, 0xfe, 0xff];
        var key = new byte[random.Next(1, 6)];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = alphabet[random.Next(alphabet.Length)];
        }
        return key;
    }

    private static KeySpan RandomSpan(Random random) => random.Next(4) switch
    {
        0 => KeySpan.Single(RandomKey(random)),
        1 => new KeySpan(RandomKey(random), []),
        2 => new KeySpan([0x00], []),
        _ => new KeySpan(RandomKey(random), RandomKey(random)),
    };

    private static List<string> Hex(IEnumerable<byte[]> keys) => [.. keys.Select(Convert.ToHexString)];
}
