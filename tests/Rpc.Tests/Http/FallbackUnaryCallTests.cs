using Grpc.Core;
using Rpc.Client;
using Rpc.Client.Http;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>Which local failures the same-host upgrade may send again over HTTP/2: only those the server never saw.</summary>
public sealed class FallbackUnaryCallTests
{
    [Fact]
    public async Task NeverReachedServer_CallOnADisposedChannel_True()
    {
        // The upgrade drops its local channel when the local server goes; a call that meets the
        // disposed channel never left this process.
        var channel = RpcChannel.ForAddress($"unix:///tmp/rpct-{Guid.NewGuid():N}.sock");
        await channel.DisposeAsync();
        var client = new TestService.TestServiceClient(channel);

        var failure = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout());

        Assert.True(FallbackUnaryCall<SimpleRequest, SimpleResponse>.NeverReachedServer(failure.Status), failure.Status.ToString());
    }

    [Fact]
    public void NeverReachedServer_SomeOtherObjectDisposed_False()
    {
        var status = new Status(StatusCode.Unavailable, "The connection failed.", new ObjectDisposedException("SslStream"));

        Assert.False(FallbackUnaryCall<SimpleRequest, SimpleResponse>.NeverReachedServer(status));
    }

    [Fact]
    public void NeverReachedServer_AResetAfterTheCallWasSent_False()
    {
        var status = new Status(StatusCode.Unavailable, "The connection failed: broken pipe");

        Assert.False(FallbackUnaryCall<SimpleRequest, SimpleResponse>.NeverReachedServer(status));
    }
}
