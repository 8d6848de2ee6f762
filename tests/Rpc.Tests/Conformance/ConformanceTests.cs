using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Conformance;

/// <summary>
/// gRPC semantics across two real processes: the test server runs as its own process and this
/// test process is the client. Each transport runs the same cases through a subclass.
/// </summary>
public abstract class ConformanceTests : IAsyncLifetime
{
    private const int FourMiB = 4 * 1024 * 1024;

    private IConformanceServer? _server;
    private ChannelBase? _channel;

    protected IConformanceServer Server => _server!;

    /// <summary>Starts the test server at <paramref name="address"/>: its own process, unless a transport hosts it otherwise.</summary>
    protected virtual async Task<IConformanceServer> StartServerAsync(string address) => new ProcessConformanceServer(await ServerProcess.StartAsync(address));

    protected ChannelBase Channel => _channel!;

    protected TestService.TestServiceClient Client => new(Channel);

    /// <summary>
    /// A channel to the test server: an RpcChannel, or for the standard-gRPC row a stock GrpcChannel
    /// given the same limits; transports with settings of their own add them.
    /// </summary>
    protected virtual ChannelBase CreateChannel(RpcChannelOptions? options = null) => RpcChannel.ForAddress(Server.Address, options);

    /// <summary>Starts a client process with a long Sleep call (key <paramref name="key"/>) and kills it once the server is inside the handler.</summary>
    protected virtual async Task KillClientDuringSleepAsync(string key)
    {
        await using var client = ChildProcess.Start(TestPaths.TestClientDll, "sleep", Server.Address, key);
        await client.WaitForLineAsync("STARTED");
        await client.KillAsync();
    }

    /// <summary>Checks the status a call cancelled by its own client's token ended with.</summary>
    protected virtual void AssertCancelledByClient(RpcException ex) => Assert.Equal(StatusCode.Cancelled, ex.StatusCode);

    private static async ValueTask DisposeChannelAsync(ChannelBase channel)
    {
        if (channel is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            await channel.ShutdownAsync();
        }
    }

    /// <summary>A fresh address for a new server on this transport.</summary>
    protected abstract string NewAddress();

    /// <summary>
    /// Checks that a server that stopped gracefully left nothing behind at <paramref name="address"/>;
    /// after a kill, removes what it left so the run leaves nothing either.
    /// </summary>
    protected abstract void AssertReleased(string address, bool graceful);

    public async Task InitializeAsync()
    {
        _server = await StartServerAsync(NewAddress());
        _channel = CreateChannel();
    }

    public async Task DisposeAsync()
    {
        if (_channel is not null)
        {
            await DisposeChannelAsync(_channel);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
            AssertReleased(_server.Address, graceful: !_server.WasKilled);
        }
    }

    [Fact]
    public async Task EmptyCall_Unary_Succeeds()
    {
        var response = await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.NotNull(response);
    }

    [Fact]
    public async Task UnaryCall_LargeResponse_ArrivesWhole()
    {
        var response = await Client.UnaryCallAsync(new SimpleRequest { ResponseSize = 314_159, Payload = Payload(271_828) }).ResponseAsync.DefaultTimeout();
        Assert.Equal(314_159, response.Payload.Body.Length);
    }

    [Fact]
    public void BlockingUnaryCall_ReturnsResponse()
    {
        var response = Client.UnaryCall(new SimpleRequest { ResponseSize = 10 }, deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(10, response.Payload.Body.Length);
    }

    [Fact]
    public async Task ServerStreaming_SendsEveryMessageInOrder()
    {
        var sizes = new[] { 31_415, 9, 2_653, 58_979, 0 };
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.AddRange(sizes.Select(s => new ResponseParameters { Size = s }));
        using var call = Client.StreamingOutputCall(request);
        var received = new List<int>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            received.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal(sizes, received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task ClientStreaming_AggregatesEveryMessage()
    {
        using var call = Client.StreamingInputCall();
        foreach (var size in new[] { 27_182, 8, 1_828, 45_904 })
        {
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = Payload(size) }).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var response = await call.ResponseAsync.DefaultTimeout();
        Assert.Equal(74_922, response.AggregatedPayloadSize);
    }

    [Fact]
    public async Task FullDuplex_PingPong_AnswersEachRequest()
    {
        using var call = Client.FullDuplexCall();
        foreach (var size in new[] { 31_415, 9, 2_653, 58_979 })
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
    public async Task FullDuplex_EmptyStream_EndsWithOk()
    {
        using var call = Client.FullDuplexCall();
        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Metadata_AsciiAndBinary_EchoedInHeadersAndTrailers()
    {
        var binary = new byte[] { 0xab, 0xab, 0xab, 0x00, 0xff };
        var headers = new Metadata { { "x-echo-initial", "test_initial_metadata_value" }, { "x-echo-trailing-bin", binary } };
        using var call = Client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true, ResponseSize = 1 }, headers);
        await call.ResponseAsync.DefaultTimeout();

        var responseHeaders = await call.ResponseHeadersAsync.DefaultTimeout();
        Assert.Equal("test_initial_metadata_value", responseHeaders.GetValue("x-echo-initial"));
        Assert.Equal(binary, responseHeaders.GetValueBytes("x-echo-trailing-bin"));
        var trailers = call.GetTrailers();
        Assert.Equal(binary, trailers.GetValueBytes("x-echo-trailing-bin"));
        Assert.Equal("yes", trailers.GetValue("x-intercepted"));
    }

    [Fact]
    public async Task Metadata_OnDuplexCall_EchoedBeforeAnyMessage()
    {
        var headers = new Metadata { { "x-echo-initial", "duplex" } };
        using var call = Client.FullDuplexCall(headers);
        var responseHeaders = await call.ResponseHeadersAsync.DefaultTimeout();
        Assert.Equal("duplex", responseHeaders.GetValue("x-echo-initial"));
        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal("duplex", call.GetTrailers().GetValue("x-echo-initial"));
    }

    [Fact]
    public async Task StatusFromHandler_ReachesClientWithMessageAndTrailers()
    {
        var request = new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.FailedPrecondition, Message = "test status message ✓" } };
        using var call = Client.UnaryCallAsync(request);
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("test status message ✓", ex.Status.Detail);
        Assert.Equal("present", ex.Trailers.GetValue("x-status-trailer"));
        Assert.Equal(StatusCode.FailedPrecondition, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task StatusFromStreamingHandler_EndsStreamAfterMessages()
    {
        var request = new StreamingOutputCallRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.Aborted, Message = "aborted" } };
        request.ResponseParameters.Add(new ResponseParameters { Size = 5 });
        using var call = Client.StreamingOutputCall(request);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
    }

    [Fact]
    public async Task UnexpectedException_IsUnknownWithoutDetails()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ThrowAsync(new ThrowRequest { Message = "secret internals" }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.Equal("Exception was thrown by handler.", ex.Status.Detail);
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        var method = new Method<Empty, Empty>(MethodType.Unary, "rpc.testing.TestService", "NoSuchMethod", EmptyMarshaller, EmptyMarshaller);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Channel.CreateCallInvoker().AsyncUnaryCall(method, null, default, new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Method is unimplemented.", ex.Status.Detail);
    }

    [Fact]
    public async Task UnknownService_IsUnimplemented()
    {
        var method = new Method<Empty, Empty>(MethodType.Unary, "rpc.testing.NoSuchService", "EmptyCall", EmptyMarshaller, EmptyMarshaller);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Channel.CreateCallInvoker().AsyncUnaryCall(method, null, default, new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Service is unimplemented.", ex.Status.Detail);
    }

    [Fact]
    public async Task Deadline_OnSleepingServer_ExceededOnBothSides()
    {
        // Connect first: under load a TLS handshake can outlast the 300 ms deadline, and a call
        // that never reached the server cannot show the server-side cancellation this test is about.
        await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        var key = Guid.NewGuid().ToString();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            Client.SleepAsync(new SleepRequest { Key = key, Millis = 20_000 }, deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.Equal("cancelled", await OutcomeAsync(key));
    }

    [Fact]
    public async Task Deadline_IsPropagatedToServer()
    {
        var response = await Client.UnaryCallAsync(new SimpleRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.DefaultTimeout();
        Assert.InRange(response.DeadlineRemainingMs, 1_000, 10_000);
    }

    [Fact]
    public async Task Deadline_AlreadyPassed_FailsWithoutCalling()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(-1)).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Fact]
    public async Task Cancellation_ByClient_SeenByServer()
    {
        var key = Guid.NewGuid().ToString();
        using var cts = new CancellationTokenSource();
        using var call = Client.SleepAsync(new SleepRequest { Key = key, Millis = 20_000 }, cancellationToken: cts.Token);
        await call.ResponseHeadersAsync.DefaultTimeout();
        await cts.CancelAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        AssertCancelledByClient(ex);
        Assert.Equal("cancelled", await OutcomeAsync(key));
    }

    [Fact]
    public async Task Cancellation_OneTokenForCallAndMoveNext_EndsReadPromptly()
    {
        for (var i = 0; i < 20; i++)
        {
            using var cts = new CancellationTokenSource();
            var request = new StreamingOutputCallRequest();
            request.ResponseParameters.AddRange(Enumerable.Range(0, 1000).Select(_ => new ResponseParameters { Size = 1, IntervalUs = 1000 }));
            using var call = Client.StreamingOutputCall(request, cancellationToken: cts.Token);
            Assert.True(await call.ResponseStream.MoveNext(cts.Token).DefaultTimeout());
            cts.CancelAfter(i % 3);
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                while (await call.ResponseStream.MoveNext(cts.Token).DefaultTimeout())
                {
                }
            });
            AssertCancelledByClient(ex);
        }
    }

    [Fact]
    public async Task Dispose_RunningCall_CancelsOnServer()
    {
        var key = Guid.NewGuid().ToString();
        var call = Client.SleepAsync(new SleepRequest { Key = key, Millis = 20_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        call.Dispose();
        Assert.Equal("cancelled", await OutcomeAsync(key));
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task ConcurrentCalls_200OnOneChannel_AllSucceed()
    {
        var calls = Enumerable.Range(0, 200).Select(i => Client.UnaryCallAsync(new SimpleRequest { ResponseSize = i }).ResponseAsync).ToArray();
        var responses = await Task.WhenAll(calls).DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, 200), responses.Select(r => r.Payload.Body.Length));
    }

    [Fact]
    public async Task SeveralClients_OnOneServer_AllServed()
    {
        var channels = Enumerable.Range(0, 4).Select(_ => CreateChannel()).ToList();
        try
        {
            var calls = channels.SelectMany(c => Enumerable.Range(0, 25).Select(_ => new TestService.TestServiceClient(c).UnaryCallAsync(new SimpleRequest { ResponseSize = 3 }).ResponseAsync));
            var responses = await Task.WhenAll(calls).DefaultTimeout();
            Assert.All(responses, r => Assert.Equal(3, r.Payload.Body.Length));
        }
        finally
        {
            foreach (var channel in channels)
            {
                await DisposeChannelAsync(channel);
            }
        }
    }

    [Fact]
    public async Task RequestJustUnderLimit_Succeeds()
    {
        var request = RequestOfSerializedSize(FourMiB);
        var response = await Client.UnaryCallAsync(request).ResponseAsync.DefaultTimeout();
        Assert.NotNull(response);
    }

    [Fact]
    public async Task RequestJustOverLimit_ResourceExhausted_ChannelStillUsable()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.UnaryCallAsync(RequestOfSerializedSize(FourMiB + 1)).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task RequestOverServerLimit_RefusedByServer_ConnectionStillUsable()
    {
        var generous = CreateChannel(new RpcChannelOptions { MaxSendMessageSize = 8 * FourMiB });
        try
        {
            var client = new TestService.TestServiceClient(generous);
            var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(RequestOfSerializedSize(FourMiB + 1)).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
            await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
        finally
        {
            await DisposeChannelAsync(generous);
        }
    }

    [Fact]
    public async Task ResponseOverLimit_ResourceExhausted_ChannelStillUsable()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.UnaryCallAsync(new SimpleRequest { ResponseSize = FourMiB + 1 }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task ResponseOverClientLimit_ResourceExhausted()
    {
        var strict = CreateChannel(new RpcChannelOptions { MaxReceiveMessageSize = 1024 });
        try
        {
            var client = new TestService.TestServiceClient(strict);
            var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseSize = 2048 }).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
            Assert.Equal(10, (await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 10 }).ResponseAsync.DefaultTimeout()).Payload.Body.Length);
        }
        finally
        {
            await DisposeChannelAsync(strict);
        }
    }

    [Fact]
    public async Task ClientInterceptor_SeesAndChangesCalls()
    {
        var interceptor = new HeaderAddingInterceptor();
        var client = new TestService.TestServiceClient(Channel.Intercept(interceptor));
        using var call = client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true });
        await call.ResponseAsync.DefaultTimeout();
        Assert.Equal(1, interceptor.Calls);
        Assert.Equal("from-interceptor", call.GetTrailers().GetValue("x-echo-intercepted"));
    }

    [Fact]
    public async Task ServerKilled_DuringCall_ClientGetsUnavailable()
    {
        using var call = Client.SleepAsync(new SleepRequest { Key = "killed", Millis = 20_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        var stopwatch = Stopwatch.StartNew();
        await Server.KillAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"Unavailable took {stopwatch.Elapsed}.");
        var next = await Assert.ThrowsAsync<RpcException>(() => Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, next.StatusCode);
    }

    [Fact]
    public async Task ServerRestarted_NextCallReconnects()
    {
        await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        await Server.KillAsync();
        await using var restarted = await StartServerAsync(Server.Address);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                await Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
                break;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    [Fact]
    public async Task ServerShutdown_LetsCallsInFlightFinish_RefusesNewOnes()
    {
        var key = Guid.NewGuid().ToString();
        using var call = Client.SleepAsync(new SleepRequest { Key = key, Millis = 1_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        var stopping = Server.TerminateAsync();
        await call.ResponseAsync.DefaultTimeout();
        await stopping;
        Assert.Contains("STOPPED", Server.Transcript, StringComparison.Ordinal);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task ServerShutdown_CancelsCallsThatOutliveTheTimeout()
    {
        var key = Guid.NewGuid().ToString();
        using var call = Client.SleepAsync(new SleepRequest { Key = key, Millis = 60_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        await Server.TerminateAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task ClientKilled_DuringCall_ServerTokenFires()
    {
        var key = Guid.NewGuid().ToString();
        await KillClientDuringSleepAsync(key);
        Assert.Equal("cancelled", await OutcomeAsync(key));
    }

    private async Task<string> OutcomeAsync(string key)
    {
        try
        {
            return (await Client.GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = key, WaitMillis = 10_000 }).ResponseAsync.DefaultTimeout()).Outcome;
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException("Server output:" + Environment.NewLine + Server.Transcript, ex);
        }
    }

    private static Payload Payload(int size) => new() { Body = ByteString.CopyFrom(new byte[size]) };

    /// <summary>A request whose serialized form is exactly <paramref name="size"/> bytes.</summary>
    private static SimpleRequest RequestOfSerializedSize(int size)
    {
        var body = size - 10;
        while (true)
        {
            var request = new SimpleRequest { Payload = Payload(body) };
            var actual = request.CalculateSize();
            if (actual == size)
            {
                return request;
            }

            body += size - actual;
        }
    }

    private static readonly Marshaller<Empty> EmptyMarshaller = Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom);

    private sealed class HeaderAddingInterceptor : Interceptor
    {
        public int Calls { get; private set; }

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            Calls++;
            var headers = context.Options.Headers ?? [];
            headers.Add("x-echo-intercepted", "from-interceptor");
            var options = context.Options.WithHeaders(headers);
            return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options));
        }
    }
}
