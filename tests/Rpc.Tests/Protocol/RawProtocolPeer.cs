using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Protocol;

/// <summary>
/// A hand-driven client of an in-memory server connection: the test writes whatever frames it likes
/// (including ones an honest client never sends) and reads the server's replies frame by frame.
/// Only the test's thread touches the pipes' client ends.
/// </summary>
internal sealed class RawProtocolPeer : IAsyncDisposable
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    private RawProtocolPeer(Rpc.Transports.ITransportConnection transport, MultiplexedConnection server, ConnectionPair.Acceptor calls)
    {
        _input = ((Rpc.Transports.ITransportConnection)transport).Transport.Input;
        _output = ((Rpc.Transports.ITransportConnection)transport).Transport.Output;
        Server = server;
        Calls = calls;
    }

    public MultiplexedConnection Server { get; }

    public ConnectionPair.Acceptor Calls { get; }

    /// <summary>Starts a server connection and completes the handshake with <paramref name="clientSettings"/>.</summary>
    public static Task<RawProtocolPeer> StartAsync(ConnectionOptions serverOptions, ConnectionSettings? clientSettings = null, Action<MultiplexedConnection, CallStream, CallStart>? onCall = null)
    {
        var (clientTransport, serverTransport) = InMemoryConnection.CreatePair();
        return StartAsync(clientTransport, serverTransport, serverOptions, clientSettings, onCall);
    }

    /// <summary>As above, over a transport pair of the test's choosing.</summary>
    public static async Task<RawProtocolPeer> StartAsync(Rpc.Transports.ITransportConnection clientTransport, Rpc.Transports.ITransportConnection serverTransport, ConnectionOptions serverOptions, ConnectionSettings? clientSettings = null, Action<MultiplexedConnection, CallStream, CallStart>? onCall = null)
    {
        var calls = new ConnectionPair.Acceptor(onCall);
        var server = new MultiplexedConnection(serverTransport, serverOptions, calls, NullLogger.Instance);
        var peer = new RawProtocolPeer(clientTransport, server, calls);
        await peer.SendAsync(w =>
        {
            Preface.Write(w);
            FrameWriter.WriteSettings(w, clientSettings ?? new ConnectionSettings());
        });
        await server.StartAsync(CancellationToken.None).DefaultTimeout();
        var settings = await peer.ReadFrameAsync();
        if (settings?.Header.Type != FrameType.Settings)
        {
            throw new InvalidOperationException("The server did not answer with SETTINGS.");
        }

        return peer;
    }

    public async Task SendAsync(Action<IBufferWriter<byte>> write)
    {
        write(_output);
        await _output.FlushAsync().AsTask().DefaultTimeout();
    }

    /// <summary>The server's next frame (its preface skipped), or null once it closed the connection.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReadFrameAsync()
    {
        while (true)
        {
            var result = await _input.ReadAsync().AsTask().DefaultTimeout();
            var buffer = result.Buffer;
            if (!_prefaceSkipped && buffer.Length >= Preface.Size)
            {
                buffer = buffer.Slice(Preface.Size);
                _prefaceSkipped = true;
            }

            if (_prefaceSkipped && FrameReader.TryReadFrame(ref buffer, ConnectionSettings.MaxAllowedFrameSize, out var header, out var payload))
            {
                var bytes = payload.ToArray();
                _input.AdvanceTo(buffer.Start);
                return (header, bytes);
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    /// <summary>Reads frames until one of <paramref name="type"/>; null if the server closed first.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReadUntilAsync(FrameType type)
    {
        while (await ReadFrameAsync() is { } frame)
        {
            if (frame.Header.Type == type)
            {
                return frame;
            }
        }

        return null;
    }

    private bool _prefaceSkipped;

    public async ValueTask DisposeAsync()
    {
        await _output.CompleteAsync();
        await Server.DisposeAsync().AsTask().DefaultTimeout();
    }
}
