using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Silo;

return await FrontendCommandLine.RunAsync(args, "kubebrain", ServerOptions.Usage, new ServerOptions(), async options =>
{
    await using var app = KubeBrainServer.Build(options);
    await app.StartAsync();
    Console.WriteLine(options.Frontend
        ? $"KubeBrain '{options.Name}' serving etcd on {string.Join(", ", options.ListenClientUrls)} ({options.DescribeStorage()})"
        : $"KubeBrain silo '{options.Name}' up in cluster {options.ClusterId} ({options.DescribeStorage()}; no etcd frontend)");
    await app.WaitForShutdownAsync();
});
