using Google.Protobuf;
using KubeBrain.Tests.Infrastructure;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// etcd as the kube-apiserver uses it. Pods live at <c>{prefix}/pods/ns{n}/pod{m}</c> in a small key space, so
/// clients collide on keys and their compare-and-swaps conflict. Each step is one apiserver operation:
/// <list type="bullet">
/// <item>create: a transaction puts the key if its mod revision is 0, else reads it;</item>
/// <item>GuaranteedUpdate: the key's mod revision, read by a Range or taken from what the client saw before (the
/// apiserver's watch cache), guards a transaction that puts a new value, else reads the key; a conflict retries
/// from that read, a few times at most;</item>
/// <item>delete: the same, with a delete instead of the put;</item>
/// <item>LIST: pods of one namespace or of all, in pages of <see cref="PageSize"/>, each next page from the
/// key after the last one at the first page's revision while the answer says more;</item>
/// <item>GET: a consistent read of one pod;</item>
/// <item>event: an event created at a fresh key under <c>{prefix}/events/</c>, attached to a short lease the
/// client granted (leases serve a few events each), and now and then the revoke of one of those leases.</item>
/// </list>
/// Every written value is unique (<see cref="UniqueValues"/>).
/// </summary>
public sealed class KubernetesTraffic : ITrafficProfile
{
    public const string ProfileName = "kubernetes";
    public const int Namespaces = 3;
    public const int PodsPerNamespace = 10;
    public const long PageSize = 5;

    /// <summary>How many transactions a GuaranteedUpdate or a delete tries before it gives up on conflicts.</summary>
    public const int MaxAttempts = 3;

    private static readonly (Step Choice, int Weight)[] Steps =
    [
        (Step.Update, 35),
        (Step.Create, 15),
        (Step.Delete, 10),
        (Step.List, 15),
        (Step.Get, 7),
        (Step.Event, 15),
        (Step.RevokeLease, 3),
    ];

    private enum Step
    {
        Create,
        Update,
        Delete,
        List,
        Get,
        Event,
        RevokeLease,
    }

    public string Name => ProfileName;

    public async Task RunAsync(TrafficClient client, CancellationToken stop)
    {
        var run = new Run(client, stop);
        while (!stop.IsCancellationRequested)
        {
            await Task.Yield();
            await run.StepAsync(Choose.Weighted(client.Random, Steps));
        }
    }

    /// <summary>One client's run: what it knows of the pods (key to mod revision), its values and leases.</summary>
    private sealed class Run(TrafficClient client, CancellationToken stop)
    {
        private readonly SortedDictionary<string, long> _known = new(StringComparer.Ordinal);
        private readonly UniqueValues _values = new(client);
        private readonly ClientLeases _leases = new(client);
        private readonly string _pods = $"{client.Prefix}/pods/";
        private long _events;

        private Random Random => client.Random;

        public Task StepAsync(Step step) => step switch
        {
            Step.Create => CreateAsync(),
            Step.Update => GuardedWriteAsync(KnownOrAnyPod(), (key, seen) => Etcd.Update(key, _values.Next(), seen)),
            Step.Delete => GuardedWriteAsync(KnownOrAnyPod(), Etcd.Delete),
            Step.List => ListAsync(),
            Step.Get => GetAsync(AnyPod()),
            Step.Event => EventAsync(),
            Step.RevokeLease => _leases.RevokeAsync(),
            _ => throw new ArgumentOutOfRangeException(nameof(step)),
        };

        private string Namespace(int n) => $"{_pods}ns{n}/";

        private string AnyPod() => $"{Namespace(Random.Next(Namespaces))}pod{Random.Next(PodsPerNamespace)}";

        /// <summary>Mostly a pod the client saw exist, as the apiserver updates and deletes objects that exist.</summary>
        private string KnownOrAnyPod() =>
            _known.Count > 0 && !Choose.OneIn(Random, 4) ? _known.Keys.ElementAt(Random.Next(_known.Count)) : AnyPod();

        private async Task CreateAsync()
        {
            var key = AnyPod();
            var response = await client.TxnAsync(Create(key, _values.Next(), lease: 0));
            if (response is not null)
            {
                LearnCas(key, response);
            }
        }

        /// <summary>
        /// The apiserver's read-modify-write: a transaction guarded by the mod revision the client saw, which on a
        /// conflict reads the key and is tried again from that read, until it succeeds, the key is gone, or
        /// <see cref="MaxAttempts"/> were made.
        /// </summary>
        private async Task GuardedWriteAsync(string key, Func<string, long, Rpc.TxnRequest> write)
        {
            long seen;
            if (_known.TryGetValue(key, out var cached) && Choose.OneIn(Random, 2))
            {
                seen = cached;
            }
            else
            {
                var current = await GetAsync(key);
                if (current is null || current.Kvs.Count == 0)
                {
                    return;
                }
                seen = current.Kvs[0].ModRevision;
            }
            for (var attempt = 0; attempt < MaxAttempts && !stop.IsCancellationRequested; attempt++)
            {
                var response = await client.TxnAsync(write(key, seen));
                if (response is null)
                {
                    _known.Remove(key);
                    return;
                }
                if (!LearnCas(key, response))
                {
                    return;
                }
                seen = _known[key];
            }
        }

        /// <summary>
        /// Learns from a guarded transaction on <paramref name="key"/>; true if it lost a conflict to a key that
        /// still exists, so it can be tried again from <see cref="_known"/>.
        /// </summary>
        private bool LearnCas(string key, Rpc.TxnResponse response)
        {
            if (response.Succeeded)
            {
                if (response.Responses[0].ResponseCase == Rpc.ResponseOp.ResponseOneofCase.ResponsePut)
                {
                    _known[key] = response.Header.Revision;
                }
                else
                {
                    _known.Remove(key);
                }
                return false;
            }
            var current = response.Responses[0].ResponseRange;
            Learn(key, current);
            return current.Kvs.Count > 0;
        }

        private async Task<Rpc.RangeResponse?> GetAsync(string key)
        {
            var response = await client.RangeAsync(Etcd.Get(key));
            if (response is not null)
            {
                Learn(key, response);
            }
            return response;
        }

        private void Learn(string key, Rpc.RangeResponse response)
        {
            if (response.Kvs.Count == 0)
            {
                _known.Remove(key);
            }
            else
            {
                _known[key] = response.Kvs[0].ModRevision;
            }
        }

        /// <summary>
        /// A paged LIST as the apiserver issues it; once every page is read, the client knows exactly the pods
        /// under the listed prefix.
        /// </summary>
        private async Task ListAsync()
        {
            var prefix = Choose.OneIn(Random, 3) ? Namespace(Random.Next(Namespaces)) : _pods;
            var page = await client.RangeAsync(Etcd.List(prefix, PageSize));
            if (page is null)
            {
                return;
            }
            var revision = page.Header.Revision;
            var listed = new Dictionary<string, long>(StringComparer.Ordinal);
            while (true)
            {
                foreach (var kv in page.Kvs)
                {
                    listed[kv.Key.ToStringUtf8()] = kv.ModRevision;
                }
                if (!page.More || page.Kvs.Count == 0 || stop.IsCancellationRequested)
                {
                    break;
                }
                var next = Etcd.List(prefix, PageSize, revision);
                next.Key = ByteString.CopyFrom([.. page.Kvs[^1].Key, 0]);
                page = await client.RangeAsync(next);
                if (page is null)
                {
                    return;
                }
            }
            if (page.More)
            {
                return;
            }
            foreach (var key in _known.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _known.Remove(key);
            }
            foreach (var (key, modRevision) in listed)
            {
                _known[key] = modRevision;
            }
        }

        /// <summary>An event, created under a fresh name with a lease, as the apiserver stores events.</summary>
        private async Task EventAsync()
        {
            var lease = await _leases.ForWriteAsync();
            if (lease == 0 || stop.IsCancellationRequested)
            {
                return;
            }
            var key = $"{client.Prefix}/events/ns{Random.Next(Namespaces)}/pod{Random.Next(PodsPerNamespace)}.c{client.Id}-{++_events}";
            await client.TxnAsync(Create(key, _values.Next(), lease));
        }

        /// <summary>The apiserver's Create: put if the key does not exist (mod revision 0), else read it.</summary>
        private static Rpc.TxnRequest Create(string key, string value, long lease)
        {
            var create = Etcd.Update(key, value, modRevision: 0);
            create.Success[0].RequestPut.Lease = lease;
            return create;
        }
    }
}
