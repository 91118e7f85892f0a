using System.Runtime.InteropServices;
using KubeBrain.Migrate;

const string program = "kubebrain-migrate";

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(MigrateOptions.Usage);
    return 0;
}

MigrateOptions options;
Store source;
Store target;
try
{
    options = MigrateOptions.Parse(args);
    var (sourceProduct, targetProduct) = options.Direction == Direction.Migrate ? ("etcd", "KubeBrain") : ("KubeBrain", "etcd");
    source = new Store(sourceProduct, options.From!, options.FromTls, "--from");
    target = new Store(targetProduct, options.To!, options.ToTls, "--to");
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"{program}: {e.Message}");
    await Console.Error.WriteLineAsync("Run with --help for the commands and flags.");
    return 2;
}

using var stop = new CancellationTokenSource();
var stoppedBy = 0;
void OnSignal(PosixSignalContext context, int exitStatus)
{
    context.Cancel = true;
    Interlocked.CompareExchange(ref stoppedBy, exitStatus, 0);
    stop.Cancel();
}
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnSignal(context, 130));
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnSignal(context, 143));

using (source)
using (target)
{
    var leases = new LeaseMirror(source, target);
    var progress = new Progress(Console.Error, !Console.IsErrorRedirected, source.Product, () => leases.Granted);
    var migration = new Migration(options, source, target, Console.Out, progress, leases);
    string[] summary;
    string? failure = null;
    var status = 0;
    try
    {
        summary = await migration.RunAsync(stop.Token);
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
        summary = [];
        failure = migration.Stopped();
        status = stoppedBy;
    }
    catch (StoreException e)
    {
        summary = [];
        failure = e.Message;
        status = 1;
    }
    await progress.DisposeAsync();
    foreach (var line in summary)
    {
        Console.WriteLine(line);
    }
    if (failure is not null)
    {
        await Console.Error.WriteLineAsync($"{program}: {failure}");
    }
    return status;
}
