using KubeBrain.Silo;

ServerOptions options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(ServerOptions.Usage);
        return 0;
    }
    options = ServerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"kubebrain: {e.Message}");
    Console.Error.WriteLine("Run with --help for the list of flags.");
    return 2;
}

var app = KubeBrainServer.Build(options);
await app.StartAsync();
Console.WriteLine($"KubeBrain '{options.Name}' serving etcd on {string.Join(", ", options.ListenClientUrls)} ({options.DescribeStorage()})");
await app.WaitForShutdownAsync();
return 0;
