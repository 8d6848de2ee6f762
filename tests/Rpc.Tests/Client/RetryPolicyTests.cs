using System.Diagnostics;
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
/// RpcChannelOptions.ServiceConfig's RetryPolicy, as grpc-dotnet honours it: retryable statuses
/// are retried up to MaxAttempts with grpc-previous-rpc-attempts set, others are not, the
/// deadline spans every attempt, and a request past the retry buffer is sent once.
/// </summary>
public sealed class RetryPolicyTests
{
    /// <summary>A policy retrying Unavailable on the test service (or one of its methods).</summary>
    private static ServiceConfig Policy(int maxAttempts = 5, TimeSpan? initialBackoff = null, string? method = null) => new()
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { method is null ? new MethodName { Service = TestService.Descriptor.FullName } : new MethodName { Service = TestService.Descriptor.FullName, Method = method } },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = maxAttempts,
                    InitialBackoff = initialBackoff ?? TimeSpan.FromMilliseconds(10),
                    MaxBackoff = TimeSpan.FromMilliseconds(50),
                    BackoffMultiplier = 1.5,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    };

    private static async Task<RpcServer> StartAsync(FlakyService service, string address)
    {
        var server = new RpcServer().AddService(service).Listen(address);
        await server.StartAsync().DefaultTimeout();
        return server;
    }

    private static string NewAddress() => $"inproc://retry-{Guid.NewGuid():N}";

    [Fact]
    public async Task UnaryCall_UnavailableTwiceThenOk_RetriedAndSucceeds()
    {
        var service = new FlakyService { Failures = 2 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy() });

        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 4 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(4, response.Payload.Body.Length);
        Assert.Equal(3, service.Attempts);
        Assert.Equal([null, "1", "2"], service.PreviousAttempts);
    }

    [Fact]
    public async Task UnaryCall_HttpChannelUnavailableTwiceThenOk_GrpcChannelRetries()
    {
        var service = new FlakyService { Failures = 2 };
        var server = new RpcServer().AddService(service).Listen("http://127.0.0.1:0");
        await using var _ = server;
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { ServiceConfig = Policy(), SameHostUpgrade = false });

        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 4 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(4, response.Payload.Body.Length);
        Assert.Equal(3, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_InvalidArgument_NotRetried()
    {
        var service = new FlakyService { Failures = 2, FailWith = new Status(StatusCode.InvalidArgument, "Bad request.") };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy() });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("Bad request.", ex.Status.Detail);
        Assert.Equal(1, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_AlwaysUnavailable_StopsAtMaxAttemptsWithLastStatus()
    {
        var service = new FlakyService { Failures = int.MaxValue };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy(maxAttempts: 3) });
        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest());

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("Not yet.", ex.Status.Detail);
        Assert.Equal(StatusCode.Unavailable, call.GetStatus().StatusCode);
        Assert.Equal(3, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_MaxAttemptsAboveChannelCap_CappedAtMaxRetryAttempts()
    {
        var service = new FlakyService { Failures = int.MaxValue };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy(maxAttempts: 10), MaxRetryAttempts = 2 });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(2, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_MethodNotNamedByPolicy_NotRetried()
    {
        var service = new FlakyService { Failures = 1 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy(method: "UnaryCall") });
        var client = new TestService.TestServiceClient(channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.EmptyCalls);

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task UnaryCall_DefaultMethodName_AppliesToEveryService()
    {
        var service = new FlakyService { Failures = 1 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        var config = Policy();
        config.MethodConfigs[0].Names.Clear();
        config.MethodConfigs[0].Names.Add(MethodName.Default);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = config });

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        Assert.Equal(2, service.EmptyCalls);
    }

    [Fact]
    public async Task ServerStreamingCall_UnavailableBeforeFirstMessage_RetriedAndStreams()
    {
        var service = new FlakyService { Failures = 1 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy() });
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 5 });
        request.ResponseParameters.Add(new ResponseParameters { Size = 6 });

        using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request);
        var headers = await call.ResponseHeadersAsync.DefaultTimeout();
        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.NotNull(headers);
        Assert.Equal([5, 6], sizes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(2, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_RequestAbovePerCallBuffer_SentOnceNotRetried()
    {
        var service = new FlakyService { Failures = 1 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy(), MaxRetryBufferPerCallSize = 1024 });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel)
            .UnaryCallAsync(new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[2048]) } }).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_ChannelBufferTakenByOtherCalls_SentOnceNotRetried()
    {
        var service = new FlakyService { Failures = 1 };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy(), MaxRetryBufferSize = 1024 });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel)
            .UnaryCallAsync(new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[2048]) } }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.Attempts);

        // The budget is the channel's: a small request still fits, and is retried.
        await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 1 }).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task UnaryCall_DeadlineDuringBackoff_DeadlineExceeded()
    {
        // Pushback makes the 30 s wait certain (the policy's own backoff is jittered down to anything).
        var service30 = new FlakyService { Failures = int.MaxValue, FailureTrailers = { { "grpc-retry-pushback-ms", "30000" } } };
        var address30 = NewAddress();
        await using var server30 = await StartAsync(service30, address30);
        await using var channel = RpcChannel.ForAddress(address30, new RpcChannelOptions { ServiceConfig = Policy() });

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel)
            .UnaryCallAsync(new SimpleRequest(), deadline: DateTime.UtcNow.AddSeconds(3)).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"The call took {watch.Elapsed}: the deadline did not span the backoff.");
        Assert.Equal(1, service30.Attempts);
    }

    [Fact]
    public async Task UnaryCall_NegativePushback_NotRetried()
    {
        var service = new FlakyService { Failures = 1, FailureTrailers = { { "grpc-retry-pushback-ms", "-1" } } };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy() });

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.Attempts);
    }

    [Fact]
    public async Task UnaryCall_CancelledDuringBackoff_Cancelled()
    {
        var service = new FlakyService { Failures = int.MaxValue, FailureTrailers = { { "grpc-retry-pushback-ms", "30000" } } };
        var address = NewAddress();
        await using var server = await StartAsync(service, address);
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { ServiceConfig = Policy() });
        using var cancellation = new CancellationTokenSource();

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest(), cancellationToken: cancellation.Token);
        await Waits.UntilAsync(() => service.Attempts == 1, "the first attempt reaches the server");
        await cancellation.CancelAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.True(ex.StatusCode is StatusCode.Cancelled or StatusCode.Unavailable, ex.Status.ToString());
        Assert.Equal(1, service.Attempts);
    }

    [Fact]
    public void ForAddress_RetryPolicyWithoutMaxAttempts_Throws()
    {
        var config = Policy();
        config.MethodConfigs[0].RetryPolicy!.MaxAttempts = null;

        var ex = Assert.Throws<ArgumentException>(() => RpcChannel.ForAddress(NewAddress(), new RpcChannelOptions { ServiceConfig = config }));
        Assert.Contains("MaxAttempts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ForAddress_HedgingPolicy_NotSupported()
    {
        var config = new ServiceConfig
        {
            MethodConfigs = { new MethodConfig { Names = { MethodName.Default }, HedgingPolicy = new HedgingPolicy { MaxAttempts = 2 } } },
        };

        Assert.Throws<NotSupportedException>(() => RpcChannel.ForAddress(NewAddress(), new RpcChannelOptions { ServiceConfig = config }));
    }
}
