using System.Net;
using System.Net.Sockets;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on a loopback port in front of a server that lets a test take a connection apart at a chosen moment: hold
/// back what either side sends on the connections open now, cut them off from their clients (with a reset, as a
/// network failure does) while the server side stays open, deliver the held requests late, and refuse new
/// connections for a while. New connections are forwarded normally.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private static readonly byte[] SyncMessage = [(byte)'S', 0, 0, 0, 4];

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly List<Link> _links = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private volatile bool _refusing;

    public TcpProxy(string targetHost, int targetPort)
    {
        _targetHost = targetHost;
        _targetPort = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>While true, new connections are closed as soon as they are accepted.</summary>
    public bool RefuseNew
    {
        get => _refusing;
        set => _refusing = value;
    }

    /// <summary>From now on, what the clients of the open connections send is held instead of forwarded.</summary>
    public void HoldRequests() => ForEachLink(link => link.HoldRequests());

    /// <summary>From now on, what the server sends on the open connections is held instead of forwarded.</summary>
    public void HoldResponses() => ForEachLink(link => link.HoldResponses());

    /// <summary>Waits until some held request ends with a PostgreSQL Sync message: a whole request is held.</summary>
    public async Task WaitForHeldPostgresRequestAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Snapshot().Any(link => link.HeldRequestEndsWith(SyncMessage)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no whole request was held");
            }
            await Task.Delay(10);
        }
    }

    /// <summary>Resets the client side of every open connection; the server sides stay open.</summary>
    public void CutClients() => ForEachLink(link => link.CutClient());

    /// <summary>
    /// Sends the held requests of the cut connections to the server, late, and waits until the server has answered
    /// each whole PostgreSQL request among them.
    /// </summary>
    public async Task DeliverHeldRequestsAsync(TimeSpan timeout)
    {
        var answers = Snapshot().Select(link => link.DeliverHeldRequestsAsync(SyncMessage)).ToList();
        await Task.WhenAll(answers).WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        ForEachLink(link => link.Dispose());
        _stop.Dispose();
    }

    private List<Link> Snapshot()
    {
        lock (_links)
        {
            return [.. _links];
        }
    }

    private void ForEachLink(Action<Link> action) => Snapshot().ForEach(action);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (_refusing)
            {
                client.Close(0);
                continue;
            }
            var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                server.Dispose();
                client.Close(0);
                continue;
            }
            client.NoDelay = true;
            lock (_links)
            {
                _links.Add(new Link(client, server));
            }
        }
    }

    /// <summary>One proxied connection: a pump each way, each of which can hold what it reads.</summary>
    private sealed class Link : IDisposable
    {
        private readonly Socket _client;
        private readonly Socket _server;
        private readonly Lock _lock = new();
        private readonly List<byte> _heldRequests = [];
        private readonly List<byte> _heldResponses = [];
        private readonly TaskCompletionSource _answeredAfterCut = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _holdingRequests;
        private bool _holdingResponses;
        private bool _cut;

        public Link(Socket client, Socket server)
        {
            _client = client;
            _server = server;
            _ = PumpRequestsAsync();
            _ = PumpResponsesAsync();
        }

        public void HoldRequests()
        {
            lock (_lock)
            {
                _holdingRequests = true;
            }
        }

        public void HoldResponses()
        {
            lock (_lock)
            {
                _holdingResponses = true;
            }
        }

        public bool HeldRequestEndsWith(byte[] suffix)
        {
            lock (_lock)
            {
                return _heldRequests.Count >= suffix.Length && _heldRequests[^suffix.Length..].SequenceEqual(suffix);
            }
        }

        public void CutClient()
        {
            lock (_lock)
            {
                _cut = true;
            }
            _client.Close(0);
        }

        /// <summary>
        /// Sends what this cut connection held to the server; completes when the server has answered, if what was held
        /// ends with <paramref name="requestEnd"/>, else at once.
        /// </summary>
        public async Task DeliverHeldRequestsAsync(byte[] requestEnd)
        {
            byte[] held;
            lock (_lock)
            {
                if (!_cut || _heldRequests.Count == 0)
                {
                    return;
                }
                held = [.. _heldRequests];
                _heldRequests.Clear();
            }
            await _server.SendAsync(held);
            if (held.AsSpan().EndsWith(requestEnd))
            {
                await _answeredAfterCut.Task;
            }
        }

        public void Dispose()
        {
            _client.Dispose();
            _server.Dispose();
        }

        private async Task PumpRequestsAsync()
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (await _client.ReceiveAsync(buffer) is var read and > 0)
                {
                    if (!Held(_heldRequests, buffer.AsSpan(0, read), requests: true))
                    {
                        await _server.SendAsync(buffer.AsMemory(0, read));
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
        }

        private async Task PumpResponsesAsync()
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (await _server.ReceiveAsync(buffer) is var read and > 0)
                {
                    bool cut;
                    lock (_lock)
                    {
                        cut = _cut;
                    }
                    if (cut)
                    {
                        _answeredAfterCut.TrySetResult();
                    }
                    else if (!Held(_heldResponses, buffer.AsSpan(0, read), requests: false))
                    {
                        await _client.SendAsync(buffer.AsMemory(0, read));
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
        }

        private bool Held(List<byte> held, ReadOnlySpan<byte> data, bool requests)
        {
            lock (_lock)
            {
                if (!(requests ? _holdingRequests : _holdingResponses))
                {
                    return false;
                }
                held.AddRange(data);
                return true;
            }
        }
    }
}
