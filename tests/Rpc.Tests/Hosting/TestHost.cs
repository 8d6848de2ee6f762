using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Hosting;

/// <summary>A real generic host, without the defaults that read files and environment, stopped and disposed within bounds.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    private TestHost(IHost host) => Host = host;

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public static HostApplicationBuilder CreateBuilder(IDictionary<string, string?>? configuration = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        return builder;
    }

    public static async Task<TestHost> StartAsync(HostApplicationBuilder builder)
    {
        var host = builder.Build();
        try
        {
            await host.StartAsync().DefaultTimeout();
        }
        catch
        {
            // A host that failed to start has nothing to stop (StopAsync would throw over it).
            await ((IAsyncDisposable)host).DisposeAsync().DefaultTimeout();
            throw;
        }

        return new TestHost(host);
    }

    public static Task<TestHost> StartAsync(Action<IServiceCollection> configure, IDictionary<string, string?>? configuration = null)
    {
        var builder = CreateBuilder(configuration);
        configure(builder.Services);
        return StartAsync(builder);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync().DefaultTimeout();
        }
        finally
        {
            await ((IAsyncDisposable)Host).DisposeAsync().DefaultTimeout();
        }
    }
}
