using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Faults;

/// <summary>
/// A hand-driven client socket that writes whatever bytes a test gives it. When draining, one
/// background task (the only reader) keeps the first <see cref="KeptBytes"/> received bytes and
/// counts the rest, so a hostile peer never stalls on its own receive buffer.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private const int KeptBytes = 1024 * 1024;

    private readonly Socket _socket;
    private readonly MemoryStream _kept = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _drain;
    private readonly CancellationTokenSource _stop = new();

    private RawPeer(Socket socket, bool drain)
    {
        _socket = socket;
        _drain = drain ? Task.Run(DrainAsync) : Task.CompletedTask;
    }

    /// <summary>Completes when the server closed the connection (end of stream or reset).</summary>
    public Task Closed => _closed.Task;

    public static async Task<RawPeer> ConnectAsync(EndPoint endPoint, bool drain = true)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint).DefaultTimeout();
            return new RawPeer(socket, drain);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="bytes"/>; false when the server had already closed the connection.</summary>
    public async Task<bool> TrySendAsync(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            while (!bytes.IsEmpty)
            {
                var sent = await _socket.SendAsync(bytes, SocketFlags.None).AsTask().DefaultTimeout();
                bytes = bytes[sent..];
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Ends this side's sending, so the server sees end of stream.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Whether the server closed the connection within <paramref name="bound"/>.</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan bound) => await Task.WhenAny(Closed, Task.Delay(bound)) == Closed;

    /// <summary>The GOAWAY the server sent, if the kept bytes hold one after its preface.</summary>
    public GoAwayPayload? FindGoAway()
    {
        foreach (var (header, payload) in ReceivedFrames())
        {
            if (header.Type == FrameType.GoAway)
            {
                return PayloadCodec.ReadGoAway(payload);
            }
        }

        return null;
    }

    /// <summary>The status of the TRAILERS the server sent on <paramref name="streamId"/>, if any yet.</summary>
    public Grpc.Core.Status? FindTrailers(uint streamId)
    {
        foreach (var (header, payload) in ReceivedFrames())
        {
            if (header.Type == FrameType.Trailers && header.StreamId == streamId)
            {
                return PayloadCodec.ReadTrailers(payload).Status;
            }
        }

        return null;
    }

    /// <summary>The whole frames among the kept bytes, after the server's preface.</summary>
    private List<(FrameHeader Header, ReadOnlySequence<byte> Payload)> ReceivedFrames()
    {
        byte[] bytes;
        lock (_kept)
        {
            bytes = _kept.ToArray();
        }

        var frames = new List<(FrameHeader, ReadOnlySequence<byte>)>();
        if (bytes.Length < Preface.Size)
        {
            return frames;
        }

        var buffer = new ReadOnlySequence<byte>(bytes, Preface.Size, bytes.Length - Preface.Size);
        try
        {
            while (FrameReader.TryReadFrame(ref buffer, ConnectionSettings.MaxAllowedFrameSize, out var header, out var payload))
            {
                frames.Add((header, payload));
            }
        }
        catch (ProtocolException)
        {
            // Not expected from our own server; what parsed before the fault is still returned.
        }

        return frames;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _drain.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task DrainAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                lock (_kept)
                {
                    if (_kept.Length < KeptBytes)
                    {
                        _kept.Write(buffer, 0, (int)Math.Min(read, KeptBytes - _kept.Length));
                    }
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A reset is a close too; cancellation is the test letting go.
        }

        _closed.TrySetResult();
    }
}
