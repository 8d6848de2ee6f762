using Grpc.Core;
using Grpc.Net.Client;
using Rpc.Client;
using Rpc.Tests.Http;
using Xunit;

namespace Rpc.Tests.Conformance;

/// <summary>
/// Standard gRPC: a stock Grpc.Net.Client <see cref="GrpcChannel"/> against the test server's
/// http:// address (the embedded Kestrel), with the same cases as every Rpc transport.
/// </summary>
public sealed class HttpConformanceTests : ConformanceTests
{
    protected override string NewAddress() => "http://127.0.0.1:0";

    protected override ChannelBase CreateChannel(RpcChannelOptions? options = null)
    {
        options ??= new RpcChannelOptions();
        return GrpcChannel.ForAddress(Server.Address, new GrpcChannelOptions
        {
            MaxSendMessageSize = options.MaxSendMessageSize,
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
        });
    }

    // The client process is Node's grpc-js: a stock gRPC client killed mid-call.
    protected override async Task KillClientDuringSleepAsync(string key)
    {
        await using var client = ServerGrpcJsClient.Start(Server.Address["http://".Length..], "sleep", key);
        await client.WaitForLineAsync("STARTED");
        await client.KillAsync();
    }

    // Grpc.Net.Client sometimes reports its own token's cancellation as Unavailable or Internal
    // when the token fires while it is still reading the response: "The request was aborted"
    // (grpc/grpc-dotnet#1214), or the response content it is opening already disposed by that
    // cancel. Both are the client classifying its own cancel, after the server saw it (which the
    // cases check separately); any other status, or another exception behind it, still fails.
    protected override void AssertCancelledByClient(RpcException ex)
    {
        if (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal && ex.Status.DebugException is IOException or HttpRequestException or ObjectDisposedException)
        {
            return;
        }

        Assert.True(ex.StatusCode == StatusCode.Cancelled, $"Expected Cancelled, got {ex.Status} {ex.Status.DebugException}");
    }

    protected override void AssertReleased(string address, bool graceful)
    {
        // A TCP port leaves nothing on disk; the port itself is the kernel's to reclaim.
    }
}
