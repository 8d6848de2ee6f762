using Rpc.Server;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Server defaults are the documented ones, and impossible settings are refused when set.</summary>
public sealed class ServerOptionsTests
{
    [Fact]
    public void MaxConcurrentCallsPerConnection_Default_KestrelsHundred()
    {
        Assert.Equal(100, new RpcServerOptions().MaxConcurrentCallsPerConnection);
    }

    [Fact]
    public void MaxConcurrentCallsPerConnection_Zero_Refused()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new RpcServerOptions { MaxConcurrentCallsPerConnection = 0 });
        Assert.Equal("value", ex.ParamName);
    }
}
