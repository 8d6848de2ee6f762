using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Compression;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Compression;

/// <summary>The compression and credential settings reach Grpc.Net.Client and Grpc.AspNetCore on http:// too.</summary>
public sealed class HttpCompressionAndCredentialsTests
{
    [Fact]
    public async Task HttpChannel_RequestCompressionAndServerResponseCompression_GzipBothWays()
    {
        // Grpc.AspNetCore hides grpc-encoding from handlers: the server's provider counts instead.
        var serverGzip = new CountingGzip();
        var serverOptions = new RpcServerOptions();
        serverOptions.CompressionProviders.Clear();
        serverOptions.CompressionProviders.Add(serverGzip);
        serverOptions.ResponseCompressionAlgorithm = "gzip";
        await using var server = await StartHttpAsync(serverOptions);
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { SameHostUpgrade = false, RequestCompressionAlgorithm = "gzip" });

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 4000 }, deadline: DateTime.UtcNow.AddSeconds(20));
        var response = await call.ResponseAsync.DefaultTimeout();

        Assert.Equal(4000, response.Payload.Body.Length);
        Assert.Equal(1, serverGzip.Decompressed);
        Assert.Equal(1, serverGzip.Compressed);
    }

    [Fact]
    public async Task HttpChannel_ChannelCallCredentialsWithUnsafeOption_MetadataReachesServer()
    {
        var serverOptions = new RpcServerOptions();
        serverOptions.Interceptors.Add(new EchoInterceptor());
        await using var server = await StartHttpAsync(serverOptions);
        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            metadata.Add("authorization", "Bearer over-http");
            return Task.CompletedTask;
        });
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions
        {
            SameHostUpgrade = false,
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, credentials),
            UnsafeUseInsecureChannelCallCredentials = true,
        });

        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest(), deadline: DateTime.UtcNow.AddSeconds(20));
        await call.ResponseAsync.DefaultTimeout();

        Assert.Equal("Bearer over-http", call.GetTrailers().GetValue("x-authorization"));
    }

    private static async Task<RpcServer> StartHttpAsync(RpcServerOptions options)
    {
        var server = new RpcServer(options);
        server.AddService(new ConformanceService()).Listen("http://127.0.0.1:0");
        await server.StartAsync().DefaultTimeout();
        return server;
    }

    private sealed class CountingGzip : ICompressionProvider
    {
        private readonly GzipCompressionProvider _gzip = new(System.IO.Compression.CompressionLevel.Fastest);
        private int _compressed;
        private int _decompressed;

        public int Compressed => Volatile.Read(ref _compressed);

        public int Decompressed => Volatile.Read(ref _decompressed);

        public string EncodingName => "gzip";

        public Stream CreateCompressionStream(Stream stream, System.IO.Compression.CompressionLevel? compressionLevel)
        {
            Interlocked.Increment(ref _compressed);
            return _gzip.CreateCompressionStream(stream, compressionLevel);
        }

        public Stream CreateDecompressionStream(Stream stream)
        {
            Interlocked.Increment(ref _decompressed);
            return _gzip.CreateDecompressionStream(stream);
        }
    }

    /// <summary>Echoes what the server received of the settings under test into the trailers.</summary>
    private sealed class EchoInterceptor : Interceptor
    {
        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            if (context.RequestHeaders.GetValue("authorization") is { } value)
            {
                context.ResponseTrailers.Add("x-authorization", value);
            }

            return continuation(request, context);
        }
    }
}
