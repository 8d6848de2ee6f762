using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>
/// A retry policy on calls whose caller streams requests: every message written is kept (within
/// the retry buffer) and sent again to the next attempt, so the server sees the whole stream once
/// it succeeds; past the buffer the call is not retried.
/// </summary>
public sealed class StreamingRetryTests
{
    private static RpcChannelOptions Retrying(long perCallBuffer = 1024 * 1024) => new()
    {
        MaxRetryBufferPerCallSize = perCallBuffer,
        ServiceConfig = new ServiceConfig
        {
            MethodConfigs =
            {
                new MethodConfig
                {
                    Names = { MethodName.Default },
                    RetryPolicy = new RetryPolicy
                    {
                        MaxAttempts = 3,
                        InitialBackoff = TimeSpan.FromMilliseconds(10),
                        MaxBackoff = TimeSpan.FromMilliseconds(50),
                        BackoffMultiplier = 2,
                        RetryableStatusCodes = { StatusCode.Unavailable },
                    },
                },
            },
        },
    };

    private static async Task<(RpcServer Server, string Address)> StartAsync(FlakyService service)
    {
        var address = $"inproc://stream-retry-{Guid.NewGuid():N}";
        var server = new RpcServer().AddService(service).Listen(address);
        await server.StartAsync().DefaultTimeout();
        return (server, address);
    }

    private static StreamingInputCallRequest Chunk(int size) => new() { Payload = new Payload { Body = ByteString.CopyFrom(new byte[size]) } };

    [Fact]
    public async Task ClientStreamingCall_FirstAttemptUnavailable_EveryMessageReplayed()
    {
        var service = new FlakyService { Failures = 1 };
        var (server, address) = await StartAsync(service);
        await using var _ = server;
        await using var channel = RpcChannel.ForAddress(address, Retrying());

        using var call = new TestService.TestServiceClient(channel).StreamingInputCall();
        foreach (var size in new[] { 100, 200, 300 })
        {
            await call.RequestStream.WriteAsync(Chunk(size)).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var response = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(600, response.AggregatedPayloadSize);
        Assert.Equal(2, service.Attempts);
        Assert.Equal([null, "1"], service.PreviousAttempts);
    }

    [Fact]
    public async Task ClientStreamingCall_UnavailableAfterWholeStream_WholeStreamReplayed()
    {
        var service = new FlakyService { Failures = 1, FailAfterReading = true };
        var (server, address) = await StartAsync(service);
        await using var _ = server;
        await using var channel = RpcChannel.ForAddress(address, Retrying());

        using var call = new TestService.TestServiceClient(channel).StreamingInputCall();
        foreach (var size in new[] { 100, 200, 300 })
        {
            await call.RequestStream.WriteAsync(Chunk(size)).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var response = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(600, response.AggregatedPayloadSize);
        Assert.Equal(2, service.Attempts);
    }

    [Fact]
    public async Task DuplexCall_FirstAttemptUnavailable_RetriedAndAnswersEveryRequest()
    {
        var service = new FlakyService { Failures = 1 };
        var (server, address) = await StartAsync(service);
        await using var _ = server;
        await using var channel = RpcChannel.ForAddress(address, Retrying());

        using var call = new TestService.TestServiceClient(channel).FullDuplexCall();
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 7 });
        await call.RequestStream.WriteAsync(request).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(7, call.ResponseStream.Current.Payload.Body.Length);
        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(2, service.Attempts);
    }

    [Fact]
    public async Task ClientStreamingCall_MessagesPastPerCallBuffer_NotRetried()
    {
        var service = new FlakyService { Failures = 1, FailAfterReading = true };
        var (server, address) = await StartAsync(service);
        await using var _ = server;
        await using var channel = RpcChannel.ForAddress(address, Retrying(perCallBuffer: 500));

        // 3 × 300 bytes cannot all be kept: the call commits at the second, and the failure the
        // server sends once it has read them all is final.
        using var call = new TestService.TestServiceClient(channel).StreamingInputCall();
        foreach (var size in new[] { 300, 300, 300 })
        {
            await call.RequestStream.WriteAsync(Chunk(size)).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.Attempts);
    }
}
