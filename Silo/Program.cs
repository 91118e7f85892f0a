using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Silo;

return await FrontendCommandLine.RunAsync(args, "kubebrain", ServerOptions.Usage, new ServerOptions(), async options =>
{
    var app = KubeBrainServer.Build(options);
    await app.StartAsync();
    var store = $"{options.Storage}{(options.Storage == StorageKind.Sqlite ? $" in {Path.GetFullPath(options.EffectiveDataDir)}" : "")}";
    Console.WriteLine(options.Frontend
        ? $"KubeBrain '{options.Name}' serving etcd on {string.Join(", ", options.ListenClientUrls)} ({store})"
        : $"KubeBrain silo '{options.Name}' up in cluster {options.ClusterId} ({store}; no etcd frontend)");
    await app.WaitForShutdownAsync();
});
