namespace KubeBrain.Silo;

/// <summary>
/// The SQLite data directory, held by this server while it runs: an exclusive lock on <see cref="FileName"/> in it,
/// which the kernel releases when the process ends, however it ends. The embedded store keeps the sequencer's time
/// lease in its process, so a second server on the same directory would take the next epoch and leave the first
/// answering linearizable reads at a revision it no longer advances; instead the second one fails to start, naming
/// the directory. The lock is taken while the host is starting, before any hosted service (the silo's among them)
/// starts, and released when the server is disposed, after the store, which is created later, has been closed.
/// </summary>
internal sealed class DataDirectoryLock(string directory) : IHostedLifecycleService, IDisposable
{
    /// <summary>The lock file inside the data directory.</summary>
    public const string FileName = "kubebrain.lock";

    private FileStream? _held;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(directory);
        Directory.CreateDirectory(path);
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Unix: it fails at once while another open file holds
            // the lock, in another process or in this one.
            _held = new FileStream(Path.Combine(path, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot lock the data directory {path}: {e.Message}", e);
        }
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _held?.Dispose();
        _held = null;
    }
}
