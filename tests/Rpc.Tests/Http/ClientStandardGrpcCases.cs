using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// What a gRPC user relies on, driven by an <see cref="RpcChannel"/> on a standard gRPC address
/// against a stock server: each subclass starts one (Kestrel on TCP, Kestrel on a Unix socket,
/// grpc-js) and every case here runs against it.
/// </summary>
public abstract class ClientStandardGrpcCases : IAsyncLifetime
{
    protected const int FourMiB = 4 * 1024 * 1024;

    private RpcChannel? _channel;

    /// <summary>The address of the server the subclass started.</summary>
    protected string Address { get; private set; } = "";

    protected RpcChannel Channel => _channel!;

    protected TestService.TestServiceClient Client => new(Channel);

    /// <summary>Starts the stock server and returns the address an RpcChannel reaches it at.</summary>
    protected abstract Task<string> StartServerAsync();

    protected abstract Task StopServerAsync();

    public async Task InitializeAsync()
    {
        Address = await StartServerAsync();
        _channel = RpcChannel.ForAddress(Address);
    }

    public async Task DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync().DefaultTimeout();
        }

        await StopServerAsync();
    }

    [Fact]
    public async Task EmptyCall_StandardServer_Succeeds()
    {
        var response = await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.NotNull(response);
    }

    [Fact]
    public void BlockingUnaryCall_StandardServer_ReturnsResponse()
    {
        var response = Client.UnaryCall(new SimpleRequest { ResponseSize = 10 }, deadline: DateTime.UtcNow.Add(Infrastructure.TaskExtensions.DefaultTimeoutSpan));
        Assert.Equal(10, response.Payload.Body.Length);
    }

    [Fact]
    public async Task UnaryCall_MessagesNearFourMiB_ArriveWhole()
    {
        const int size = FourMiB - 1024;
        var response = await Client.UnaryCallAsync(new SimpleRequest { ResponseSize = size, Payload = Payload(size) }).ResponseAsync.DefaultTimeout();
        Assert.Equal(size, response.Payload.Body.Length);
    }

    [Fact]
    public async Task UnaryCall_ResponseOverReceiveLimit_FailsResourceExhausted()
    {
        await using var strict = RpcChannel.ForAddress(Address, new RpcChannelOptions { MaxReceiveMessageSize = 1024 });
        var client = new TestService.TestServiceClient(strict);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseSize = 4096 }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task UnaryCall_RequestOverSendLimit_FailsResourceExhausted()
    {
        await using var strict = RpcChannel.ForAddress(Address, new RpcChannelOptions { MaxSendMessageSize = 1024 });
        var client = new TestService.TestServiceClient(strict);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { Payload = Payload(4096) }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task ServerStreaming_SeveralMessages_ArriveInOrder()
    {
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(Enumerable.Range(1, 5).Select(i => new ResponseParameters { Size = i * 100 }));
        using var call = Client.StreamingOutputCall(request);
        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([100, 200, 300, 400, 500], sizes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task ClientStreaming_SeveralMessages_ServerSeesThemAll()
    {
        using var call = Client.StreamingInputCall();
        foreach (var size in new[] { 10, 20, 30 })
        {
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = Payload(size) }).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var response = await call.ResponseAsync.DefaultTimeout();
        Assert.Equal(60, response.AggregatedPayloadSize);
    }

    [Fact]
    public async Task DuplexStreaming_EachRequest_AnsweredBeforeTheNext()
    {
        using var call = Client.FullDuplexCall();
        foreach (var size in new[] { 7, 70, 700 })
        {
            var request = new StreamingOutputCallRequest();
            request.ResponseParameters.Add(new ResponseParameters { Size = size });
            await call.RequestStream.WriteAsync(request).DefaultTimeout();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(size, call.ResponseStream.Current.Payload.Body.Length);
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Metadata_TextAndBinary_EchoedInHeadersAndTrailers()
    {
        byte[] binary = [0, 1, 2, 0x7f, 0x80, 0xff];
        var headers = new Metadata { { "x-echo-text", "hello world" }, { "x-echo-data-bin", binary } };
        using var call = Client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true }, headers);
        var responseHeaders = await call.ResponseHeadersAsync.DefaultTimeout();
        await call.ResponseAsync.DefaultTimeout();
        var trailers = call.GetTrailers();
        foreach (var received in new[] { responseHeaders, trailers })
        {
            Assert.Equal("hello world", received.GetValue("x-echo-text"));
            Assert.Equal(binary, received.GetValueBytes("x-echo-data-bin"));
        }
    }

    public static TheoryData<StatusCode> ErrorCodes() => new(Enum.GetValues<StatusCode>().Where(c => c != StatusCode.OK));

    [Theory]
    [MemberData(nameof(ErrorCodes))]
    public async Task UnaryCall_ServerFailsWithCode_ClientSeesCodeMessageAndTrailers(StatusCode code)
    {
        var message = $"failed with {code}: ünïcödé, 100% \"quoted\"";
        using var call = Client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)code, Message = message } });
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);
        Assert.Equal("present", call.GetTrailers().GetValue("x-status-trailer"));
    }

    [Fact]
    public async Task ServerStreaming_FailsAfterMessages_ClientSeesMessagesThenStatus()
    {
        var request = new StreamingOutputCallRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.Aborted, Message = "stopped after two" } };
        request.ResponseParameters.Add([new ResponseParameters { Size = 1 }, new ResponseParameters { Size = 2 }]);
        using var call = Client.StreamingOutputCall(request);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal("stopped after two", ex.Status.Detail);
    }

    [Fact]
    public async Task Deadline_PassesDuringCall_DeadlineExceededAndServerCancelled()
    {
        var key = Guid.NewGuid().ToString("N");
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.SleepAsync(new SleepRequest { Key = key, Millis = 60_000 }, deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var outcome = await Client.GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = key, WaitMillis = 10_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal("cancelled", outcome.Outcome);
    }

    [Fact]
    public async Task Deadline_SentWithCall_ServerSeesIt()
    {
        var response = await Client.UnaryCallAsync(new SimpleRequest(), deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync.DefaultTimeout();
        Assert.InRange(response.DeadlineRemainingMs, 1, 30_000);
    }

    [Fact]
    public async Task Cancellation_WhileServerWorks_CancelledAndServerCancelled()
    {
        var key = Guid.NewGuid().ToString("N");
        using var cancellation = new CancellationTokenSource();
        using var call = Client.SleepAsync(new SleepRequest { Key = key, Millis = 60_000 }, cancellationToken: cancellation.Token);
        var headers = await call.ResponseHeadersAsync.DefaultTimeout();
        Assert.Equal(key, headers.GetValue("sleep-started"));
        await cancellation.CancelAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        var outcome = await Client.GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = key, WaitMillis = 10_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal("cancelled", outcome.Outcome);
    }

    [Fact]
    public async Task Dispose_WithCallInFlight_EndsTheCall()
    {
        var channel = RpcChannel.ForAddress(Address);
        var client = new TestService.TestServiceClient(channel);
        using var call = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString("N"), Millis = 60_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        await channel.DisposeAsync().DefaultTimeout();
        await Assert.ThrowsAnyAsync<Exception>(() => call.ResponseAsync.DefaultTimeout());
        Assert.False(call.ResponseAsync.IsCompletedSuccessfully);
    }

    protected static Payload Payload(int size) => new() { Body = ByteString.CopyFrom(new byte[size]) };
}
