using System.Diagnostics;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Pipes;

/// <summary>
/// The parent–child case: a parent starts a child process with a pair of anonymous pipes, and the
/// child serves on them. No name, no file, no port: only the two processes hold the pipes.
/// The parent side is a transport with exactly one connection; the child side is a listener that
/// accepts exactly one.
/// </summary>
public static class AnonymousPipeTransport
{
    /// <summary>The environment variable that tells the child its pipe handles ("read,write").</summary>
    public const string HandlesVariable = "RPC_PARENT_PIPES";

    private const int MaxBufferSize = 1024 * 1024;

    /// <summary>
    /// Starts <paramref name="startInfo"/> as a child holding the other ends of two new pipes, and
    /// returns the child with a transport whose one connection talks to it.
    /// </summary>
    public static (Process Child, ITransport Transport) StartChild(ProcessStartInfo startInfo)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        var toChild = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        var fromChild = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
        try
        {
            // Only the child's ends are to be inherited: were ours too, every process this one
            // starts later would hold the pipes open, and the child would never see us go.
            Inheritance.Stop(toChild.SafePipeHandle);
            Inheritance.Stop(fromChild.SafePipeHandle);
            startInfo.UseShellExecute = false;
            startInfo.Environment[HandlesVariable] = $"{toChild.GetClientHandleAsString()},{fromChild.GetClientHandleAsString()}";
            var child = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start '{startInfo.FileName}'.");
            // The child has its copies now; closing ours lets end-of-stream reach each side when the other goes.
            toChild.DisposeLocalCopyOfClientHandle();
            fromChild.DisposeLocalCopyOfClientHandle();
            return (child, new ParentTransport(fromChild, toChild, child));
        }
        catch
        {
            toChild.Dispose();
            fromChild.Dispose();
            throw;
        }
    }

    /// <summary>Child: a listener over the pipes the parent handed down, or an error naming what is missing.</summary>
    public static ITransportListener ListenOnParentPipes()
    {
        var handles = Environment.GetEnvironmentVariable(HandlesVariable)?.Split(',');
        if (handles is not [var read, var write])
        {
            throw new InvalidOperationException($"This process was not started by RpcChannel.ForChildProcess: {HandlesVariable} is not set.");
        }

        // Grandchildren must not inherit the parent's pipes by accident.
        Environment.SetEnvironmentVariable(HandlesVariable, null);
        var input = new AnonymousPipeClientStream(PipeDirection.In, read);
        var output = new AnonymousPipeClientStream(PipeDirection.Out, write);
        // Inherited, so inheritable: a grandchild would hold the pipes open and the parent would
        // not see this child go. They stay ours alone from now on.
        Inheritance.Stop(input.SafePipeHandle);
        Inheritance.Stop(output.SafePipeHandle);
        return new ParentPipeListener(new StreamConnection(input, output, "parent", MaxBufferSize));
    }

    internal sealed class ParentTransport : ITransport, IAsyncDisposable
    {
        private readonly Stream _input;
        private readonly Stream _output;
        private readonly Process _child;
        private int _used;

        public ParentTransport(Stream input, Stream output, Process child)
        {
            _input = input;
            _output = output;
            _child = child;
        }

        public IReadOnlyCollection<string> Schemes { get; } = ["child"];

        /// <summary>The parent's ends of the pipes.</summary>
        internal IEnumerable<SafeHandle> Handles => [((PipeStream)_input).SafePipeHandle, ((PipeStream)_output).SafePipeHandle];

        public void Validate(TransportAddress address)
        {
        }

        public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken) =>
            throw new NotSupportedException("A parent does not listen on its child's pipes.");

        public ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _used, 1) == 1)
            {
                throw new ConnectionFailedException($"The pipes to child process {_child.Id} are closed; start a new child.");
            }

            return ValueTask.FromResult<ITransportConnection>(new StreamConnection(_input, _output, $"child:{_child.Id}", MaxBufferSize));
        }

        /// <summary>Closes the pipes if no connection took them, so the child sees its parent go.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _used, 1) == 0)
            {
                await _input.DisposeAsync().ConfigureAwait(false);
                await _output.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed class ParentPipeListener : ITransportListener
    {
        private ITransportConnection? _connection;

        public ParentPipeListener(ITransportConnection connection) => _connection = connection;

        public TransportAddress Address { get; } = TransportAddress.Create("parent", "pipes");

        public ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Interlocked.Exchange(ref _connection, null));

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _connection, null) is { } unused)
            {
                await unused.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
