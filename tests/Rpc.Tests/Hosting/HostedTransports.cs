using Microsoft.Extensions.DependencyInjection;
using Rpc.Server;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Hosting;

/// <summary>A fresh address on each transport the hosting tests cover, and the address to call once the host has bound it.</summary>
internal static class HostedTransports
{
    public static TheoryData<string> All => ["unix", "shm", "pipe", "tcp"];

    public static string NewAddress(string transport) => transport switch
    {
        "unix" => "unix://" + TestPaths.NewSocketPath(),
        "shm" => $"shm://rpct-{Guid.NewGuid():N}",
        "pipe" => $"pipe://rpct-{Guid.NewGuid():N}",
        "tcp" => "tcp://127.0.0.1:0",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Not a transport these tests know."),
    };

    /// <summary>The one address the host's server bound (tcp's port 0 becomes the port it got).</summary>
    public static string BoundAddress(TestHost host) => host.Services.GetRequiredService<RpcServer>().BoundAddresses.Single();
}
