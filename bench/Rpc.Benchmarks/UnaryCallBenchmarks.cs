using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rpc.Client;
using Rpc.Server;

namespace Rpc.Benchmarks;

/// <summary>
/// One unary call through the whole client and server stack, both in this process, over a Unix
/// socket: Rpc against stock grpc-dotnet. The allocation column is the number the issue's
/// "bytes allocated per unary call" target compares.
/// </summary>
[MemoryDiagnoser]
public class UnaryCallBenchmarks
{
    private readonly BenchRequest _request = new() { Payload = ByteString.CopyFrom(new byte[64]), ResponseSize = 64 };
    private byte[] _requestBytes = null!;
    private byte[] _replyBytes = null!;
    private RpcServer _rpcServer = null!;
    private RpcChannel _rpcChannel = null!;
    private BenchmarkService.BenchmarkServiceClient _rpcClient = null!;
    private WebApplication _kestrel = null!;
    private GrpcChannel _grpcChannel = null!;
    private BenchmarkService.BenchmarkServiceClient _grpcClient = null!;
    private string _rpcSocket = null!;
    private string _grpcSocket = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _rpcSocket = Path.Combine(Path.GetTempPath(), $"bdn-rpc-{Environment.ProcessId}.sock");
        _grpcSocket = Path.Combine(Path.GetTempPath(), $"bdn-grpc-{Environment.ProcessId}.sock");
        _rpcServer = new RpcServer();
        _rpcServer.AddService(new BenchService()).Listen("unix://" + _rpcSocket);
        await _rpcServer.StartAsync();
        _rpcChannel = RpcChannel.ForAddress("unix://" + _rpcSocket);
        _rpcClient = new BenchmarkService.BenchmarkServiceClient(_rpcChannel);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(_grpcSocket, l => l.Protocols = HttpProtocols.Http2));
        _kestrel = builder.Build();
        _kestrel.MapGrpcService<BenchService>();
        await _kestrel.StartAsync();
        var socketPath = _grpcSocket;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        _grpcChannel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        _grpcClient = new BenchmarkService.BenchmarkServiceClient(_grpcChannel);

        // One real response from each before measuring anything.
        var reply = await RpcUnary();
        if (reply.Payload.Length != 64 || (await GrpcDotNetUnary()).Payload.Length != 64)
        {
            throw new InvalidOperationException("A unary call did not return its 64 bytes.");
        }

        _requestBytes = _request.ToByteArray();
        _replyBytes = reply.ToByteArray();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _rpcChannel.DisposeAsync();
        await _rpcServer.DisposeAsync();
        _grpcChannel.Dispose();
        await _kestrel.DisposeAsync();
        File.Delete(_grpcSocket);
    }

    [Benchmark(Baseline = true)]
    public async Task<BenchReply> GrpcDotNetUnary() => await _grpcClient.UnaryAsync(_request);

    [Benchmark]
    public async Task<BenchReply> RpcUnary() => await _rpcClient.UnaryAsync(_request);

    /// <summary>
    /// What any stack allocates for the messages themselves: the server parses the request, the
    /// client parses the reply. "Bytes per call beyond the messages" is a stack's figure minus this.
    /// </summary>
    [Benchmark]
    public BenchReply MessagesOnly()
    {
        var request = BenchRequest.Parser.ParseFrom(new System.Buffers.ReadOnlySequence<byte>(_requestBytes));
        return request.ResponseSize > 0 ? BenchReply.Parser.ParseFrom(new System.Buffers.ReadOnlySequence<byte>(_replyBytes)) : new BenchReply();
    }
}
