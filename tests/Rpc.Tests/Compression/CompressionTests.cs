using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Compression;

/// <summary>
/// gzip both ways between this process and the test server's (which answers gzip-compressed to
/// clients that accept it, and echoes the request's grpc-encoding as the x-request-encoding trailer).
/// </summary>
public sealed class CompressionTests : IClassFixture<CompressionServerFixture>
{
    private static readonly Metadata GzipRequests = [new Metadata.Entry("grpc-internal-encoding-request", "gzip")];

    private readonly CompressionServerFixture _server;

    public CompressionTests(CompressionServerFixture server) => _server = server;

    private static CallOptions Bounded(Metadata? headers = null) => new(headers: headers, deadline: DateTime.UtcNow.AddSeconds(20));

    [Fact]
    public async Task Unary_GzipRequestByMetadata_ServerDecompressesAndAnswersGzip()
    {
        await using var channel = _server.Channel();
        var client = new TestService.TestServiceClient(channel);
        // Random bytes do not shrink: the compressed request still spans several frames.
        var body = RandomNumberGenerator.GetBytes(600 * 1024);

        using var call = client.UnaryCallAsync(new SimpleRequest { ResponseSize = 1_000_000, Payload = new Payload { Body = ByteString.CopyFrom(body) } }, Bounded(GzipRequests));
        var response = await call.ResponseAsync.DefaultTimeout();
        var headers = await call.ResponseHeadersAsync.DefaultTimeout();

        Assert.Equal(1_000_000, response.Payload.Body.Length);
        Assert.Equal("gzip", call.GetTrailers().GetValue("x-request-encoding"));
        Assert.Equal("gzip", headers.GetValue("grpc-encoding"));
    }

    [Fact]
    public async Task ClientStreaming_ChannelRequestCompressionWithOneNoCompressWrite_ServerReadsEveryMessage()
    {
        await using var channel = _server.Channel(new RpcChannelOptions { RequestCompressionAlgorithm = "gzip" });
        var client = new TestService.TestServiceClient(channel);

        using var call = client.StreamingInputCall(Bounded());
        for (var i = 0; i < 3; i++)
        {
            call.RequestStream.WriteOptions = i == 1 ? new WriteOptions(WriteFlags.NoCompress) : null;
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[100_000]) } }).DefaultTimeout();
        }

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        var response = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(300_000, response.AggregatedPayloadSize);
    }

    [Fact]
    public async Task ServerStreaming_ClientAcceptsGzip_ResponsesArriveCompressedAndWhole()
    {
        await using var channel = _server.Channel();
        var client = new TestService.TestServiceClient(channel);
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add([new ResponseParameters { Size = 10 }, new ResponseParameters { Size = 2_000_000 }, new ResponseParameters { Size = 0 }]);

        using var call = client.StreamingOutputCall(request, Bounded());
        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext().DefaultTimeout())
        {
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([10, 2_000_000, 0], sizes);
        Assert.Equal("gzip", (await call.ResponseHeadersAsync.DefaultTimeout()).GetValue("grpc-encoding"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Unary_ClientAcceptsOnlyIdentity_ServerAnswersUncompressed()
    {
        var options = new RpcChannelOptions();
        options.CompressionProviders.Clear();
        await using var channel = _server.Channel(options);

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 50_000 }, Bounded());
        var response = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(50_000, response.Payload.Body.Length);
        Assert.Null((await call.ResponseHeadersAsync.DefaultTimeout()).GetValue("grpc-encoding"));
    }

    [Fact]
    public async Task Unary_EncodingTheServerLacks_FailsUnimplementedListingWhatItAccepts()
    {
        var options = new RpcChannelOptions();
        options.CompressionProviders.Add(new TestCompressionProviders.Unknown());
        await using var channel = _server.Channel(options);

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(
            new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[1000]) } },
            Bounded([new Metadata.Entry("grpc-internal-encoding-request", "x-unknown")]));
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Unsupported grpc-encoding value 'x-unknown'. Supported encodings: identity, gzip", ex.Status.Detail);
        Assert.Equal("identity,gzip", ex.Trailers.GetValue("grpc-accept-encoding"));
    }

    [Fact]
    public async Task Unary_RequestEncodingWithoutProvider_FailsInternalBeforeSending()
    {
        await using var channel = _server.Channel();

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest(), Bounded([new Metadata.Entry("grpc-internal-encoding-request", "br")]));
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Equal("Could not find compression provider for 'br'.", ex.Status.Detail);
    }

    [Fact]
    public async Task Unary_GzipBombRequest_FailsResourceExhaustedAndTheConnectionServesOn()
    {
        var options = new RpcChannelOptions();
        options.CompressionProviders.Clear();
        options.CompressionProviders.Add(new TestCompressionProviders.Bomb());
        await using var channel = _server.Channel(options);
        var client = new TestService.TestServiceClient(channel);

        using var bomb = client.UnaryCallAsync(new SimpleRequest(), Bounded(GzipRequests));
        var ex = await Assert.ThrowsAsync<RpcException>(() => bomb.ResponseAsync.DefaultTimeout());
        using var after = client.UnaryCallAsync(new SimpleRequest { ResponseSize = 10 }, Bounded());
        var response = await after.ResponseAsync.DefaultTimeout();

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Received message exceeds the maximum configured message size.", ex.Status.Detail);
        Assert.Equal(10, response.Payload.Body.Length);
    }

    [Fact]
    public async Task Unary_GzipBombResponse_ClientFailsResourceExhausted()
    {
        var serverOptions = new RpcServerOptions();
        serverOptions.CompressionProviders.Clear();
        serverOptions.CompressionProviders.Add(new TestCompressionProviders.Bomb());
        serverOptions.ResponseCompressionAlgorithm = "gzip";
        await using var server = await InProcessServer.StartAsync(serverOptions);
        await using var channel = RpcChannel.ForAddress(server.Address);

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 10 }, Bounded());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task ClientStreaming_NoCompressWrites_ReachAServerWithoutGzip()
    {
        // The server knows no gzip: a compressed message would fail Unimplemented, so a call that
        // announces gzip and succeeds proves its NoCompress messages went uncompressed.
        var serverOptions = new RpcServerOptions();
        serverOptions.CompressionProviders.Clear();
        await using var server = await InProcessServer.StartAsync(serverOptions);
        await using var channel = RpcChannel.ForAddress(server.Address);
        var noCompress = new WriteOptions(WriteFlags.NoCompress);

        using var call = new TestService.TestServiceClient(channel).StreamingInputCall(new CallOptions(headers: GzipRequests, deadline: DateTime.UtcNow.AddSeconds(20), writeOptions: noCompress));
        call.RequestStream.WriteOptions = noCompress;
        await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[5000]) } }).DefaultTimeout();
        await call.RequestStream.CompleteAsync().DefaultTimeout();

        Assert.Equal(5000, (await call.ResponseAsync.DefaultTimeout()).AggregatedPayloadSize);
    }

    [Fact]
    public async Task ServerStreaming_HandlerWritesNoCompress_ResponsesGoUncompressed()
    {
        var serverOptions = new RpcServerOptions { ResponseCompressionAlgorithm = "gzip" };
        serverOptions.Interceptors.Add(new NoCompressResponses());
        await using var server = await InProcessServer.StartAsync(serverOptions);
        var clientOptions = new RpcChannelOptions();
        clientOptions.CompressionProviders.Clear();
        clientOptions.CompressionProviders.Add(new TestCompressionProviders.RefusesToDecompress());
        await using var channel = RpcChannel.ForAddress(server.Address, clientOptions);
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add([new ResponseParameters { Size = 1000 }, new ResponseParameters { Size = 2000 }]);

        using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request, Bounded());
        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext().DefaultTimeout())
        {
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([1000, 2000], sizes);
        // The call was negotiated compressed; only the handler's write options kept it off.
        Assert.Equal("gzip", (await call.ResponseHeadersAsync.DefaultTimeout()).GetValue("grpc-encoding"));
    }

    [Fact]
    public void ResponseCompressionAlgorithm_WithoutProvider_Throws()
    {
        var options = new RpcServerOptions();

        var ex = Assert.Throws<InvalidOperationException>(() => options.ResponseCompressionAlgorithm = "br");

        Assert.Contains("'br'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Sets NoCompress on every streaming call's responses, as a handler would.</summary>
    private sealed class NoCompressResponses : Grpc.Core.Interceptors.Interceptor
    {
        public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        {
            context.WriteOptions = new WriteOptions(WriteFlags.NoCompress);
            return continuation(request, responseStream, context);
        }
    }
}
