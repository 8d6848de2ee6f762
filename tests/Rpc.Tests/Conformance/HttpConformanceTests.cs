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
    // ("The request was aborted") when the token fires while it reads the response
    // (grpc/grpc-dotnet#1214): a client-side classification, after the server saw the cancel
    // (which the cases check separately). Any other status is still a failure.
    protected override void AssertCancelledByClient(RpcException ex)
    {
        if (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal && ex.Status.DebugException is IOException or HttpRequestException)
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
