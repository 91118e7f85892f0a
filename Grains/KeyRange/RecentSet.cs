namespace KubeBrain.Grains.KeyRange;

/// <summary>A set that remembers only its most recent <paramref name="capacity"/> members.</summary>
internal sealed class RecentSet<T>(int capacity)
    where T : notnull
{
    private readonly HashSet<T> _members = [];
    private readonly Queue<T> _order = new();

    public bool Contains(T item) => _members.Contains(item);

    public void Add(T item)
    {
        if (!_members.Add(item))
        {
            return;
        }
        _order.Enqueue(item);
        if (_order.Count > capacity)
        {
            _members.Remove(_order.Dequeue());
        }
    }
}
