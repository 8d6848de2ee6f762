using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Rpc.Transports.Sockets;

/// <summary>
/// A connected socket behind two pipes: one loop moves received bytes into the input pipe, another
/// sends what the application wrote to the output pipe. The send loop batches whatever frames were
/// written between two sends into one system call.
/// </summary>
internal sealed class SocketConnection : ITransportConnection, IDuplexPipe
{
    private const int MinReceiveBufferSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Lock _shutdownLock = new();
    private readonly Task _receiveTask;
    private readonly Task _sendTask;
    private bool _socketShutDown;

    public SocketConnection(Socket socket, string peer, int maxBufferSize)
    {
        _socket = socket;
        Peer = peer;
        // Inline schedulers: the protocol's frame loop runs on the receive completion and sends run
        // on the writer's thread, saving a thread-pool hop each way; neither blocks.
        var inputOptions = new PipeOptions(
            pauseWriterThreshold: maxBufferSize, resumeWriterThreshold: maxBufferSize / 2,
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            minimumSegmentSize: MinReceiveBufferSize, useSynchronizationContext: false);
        // The output never pauses its writer: the protocol's per-stream flow control bounds what is
        // queued, and a writer that never waits lets the read loop send control frames safely.
        var outputOptions = new PipeOptions(
            pauseWriterThreshold: 0,
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            useSynchronizationContext: false);
        _input = new Pipe(inputOptions);
        _output = new Pipe(outputOptions);
        _receiveTask = ReceiveLoopAsync();
        _sendTask = SendLoopAsync();
    }

    public IDuplexPipe Transport => this;

    public string Peer { get; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    public void Abort(Exception? reason = null)
    {
        _output.Reader.CancelPendingRead();
        ShutdownSocket();
    }

    public async ValueTask DisposeAsync()
    {
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        await _sendTask.ConfigureAwait(false);
        ShutdownSocket();
        await _receiveTask.ConfigureAwait(false);
        _socket.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(MinReceiveBufferSize);
                var received = await _socket.ReceiveAsync(memory, SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            error = _socketShutDown ? null : new IOException("The connection was reset by the peer.", ex);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private async Task SendLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await SendAsync(buffer).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
            // The peer learns of a graceful end by end-of-stream, not by a reset.
            ShutdownSend();
        }
    }

    private async ValueTask SendAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            await SendAllAsync(buffer.First).ConfigureAwait(false);
            return;
        }

        foreach (var segment in buffer)
        {
            await SendAllAsync(segment).ConfigureAwait(false);
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> memory)
    {
        while (!memory.IsEmpty)
        {
            var sent = await _socket.SendAsync(memory, SocketFlags.None).ConfigureAwait(false);
            memory = memory[sent..];
        }
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            // Already gone; the receive loop reports how.
        }
    }

    private void ShutdownSocket()
    {
        lock (_shutdownLock)
        {
            if (_socketShutDown)
            {
                return;
            }

            _socketShutDown = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (IsConnectionEnd(ex))
            {
                // Already gone; the receive loop reports how.
            }

            _socket.Close();
        }
    }

    private static bool IsConnectionEnd(Exception ex) =>
        ex is SocketException or ObjectDisposedException or IOException;
}
