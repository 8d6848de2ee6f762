using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Rpc.Client;

namespace Rpc.Benchmarks;

/// <summary>A place to send calls: an Rpc transport or a stock grpc-dotnet endpoint, behind one stub type.</summary>
public sealed class Target : IDisposable
{
    private readonly IDisposable _channel;

    private Target(string name, ChannelBase channel)
    {
        Name = name;
        _channel = (IDisposable)channel;
        Client = new BenchmarkService.BenchmarkServiceClient(channel);
    }

    public string Name { get; }

    public BenchmarkService.BenchmarkServiceClient Client { get; }

    public bool IsBaseline => Name.StartsWith("grpc", StringComparison.Ordinal);

    public static Target Create(string name, string address)
    {
        if (address.StartsWith("grpc+unix://", StringComparison.Ordinal))
        {
            var path = address["grpc+unix://".Length..];
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            return new Target(name, GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = MessageLimits.MaxMessageSize, MaxSendMessageSize = MessageLimits.MaxMessageSize }));
        }

        if (address.StartsWith("grpc+", StringComparison.Ordinal))
        {
            return new Target(name, GrpcChannel.ForAddress(address["grpc+".Length..], new GrpcChannelOptions { MaxReceiveMessageSize = MessageLimits.MaxMessageSize, MaxSendMessageSize = MessageLimits.MaxMessageSize }));
        }

        // "-inline" targets run with UnsafePreferInlineScheduling on both sides (the server side is its own server).
        var options = new RpcChannelOptions
        {
            MaxReceiveMessageSize = MessageLimits.MaxMessageSize,
            MaxSendMessageSize = MessageLimits.MaxMessageSize,
            UnsafePreferInlineScheduling = name.EndsWith("-inline", StringComparison.Ordinal),
        };
        return new Target(name, RpcChannel.ForAddress(address, options));
    }

    public void Dispose() => _channel.Dispose();
}
