using System.Collections.Immutable;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Frontends;

/// <summary>
/// Keeps each registered frontend with the time its registration expires, on this silo's monotonic clock; an
/// expired entry is no longer listed and is dropped at the next registration.
/// </summary>
internal sealed class FrontendRegistryGrain(TimeProvider time) : Grain, IFrontendRegistryGrain
{
    private readonly Dictionary<ulong, (FrontendMember Member, long ExpiresAt)> _members = [];

    public Task RegisterAsync(FrontendMember member, TimeSpan ttl)
    {
        var now = time.GetTimestamp();
        foreach (var id in _members.Where(e => e.Value.ExpiresAt <= now).Select(e => e.Key).ToList())
        {
            _members.Remove(id);
        }
        _members[member.Id] = (member, now + (long)(ttl.TotalSeconds * time.TimestampFrequency));
        return Task.CompletedTask;
    }

    public Task UnregisterAsync(ulong id)
    {
        _members.Remove(id);
        return Task.CompletedTask;
    }

    public Task<ImmutableArray<FrontendMember>> MembersAsync()
    {
        var now = time.GetTimestamp();
        return Task.FromResult(_members.Values.Where(e => e.ExpiresAt > now).Select(e => e.Member).OrderBy(m => m.Id).ToImmutableArray());
    }
}
