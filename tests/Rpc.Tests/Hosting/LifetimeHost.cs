using Microsoft.Extensions.DependencyInjection;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Hosting;

/// <summary>A host serving <see cref="LifetimeService"/> (registered as the test says) and a client to call it.</summary>
internal sealed class LifetimeHost : IAsyncDisposable
{
    private readonly TestHost _host;
    private readonly RpcChannel _channel;

    private LifetimeHost(TestHost host, RpcChannel channel, LifetimeTracker tracker)
    {
        _host = host;
        _channel = channel;
        Tracker = tracker;
    }

    public LifetimeTracker Tracker { get; }

    public static async Task<LifetimeHost> StartAsync(Action<IServiceCollection> registerService)
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var tracker = new LifetimeTracker();
        var host = await TestHost.StartAsync(services =>
        {
            services.AddSingleton(tracker).AddScoped<ScopedDependency>();
            registerService(services);
            services.AddRpcServer().AddService<LifetimeService>().Listen(address);
        });
        return new LifetimeHost(host, RpcChannel.ForAddress(address), tracker);
    }

    /// <summary>Makes <paramref name="count"/> EmptyCalls one after another, each on the same channel.</summary>
    public async Task CallAsync(int count)
    {
        var client = new TestService.TestServiceClient(_channel);
        for (var i = 0; i < count; i++)
        {
            await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync().DefaultTimeout();
        await _host.DisposeAsync();
    }
}
