using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// A connection's two queues: the server creates both (0600, exclusive, under a random name), the
/// client opens them by name, and both names are unlinked as soon as both sides hold descriptors,
/// so a crash from then on leaves nothing in /dev/mqueue. Each side opens its incoming queue for
/// writing too, so that it can wake its own receive thread (see <see cref="MessageQueueConnection"/>).
/// </summary>
/// <remarks>Descriptors are closed only by <see cref="Dispose"/>, after every thread that waits on them has ended.</remarks>
internal sealed class MqQueuePair : IDisposable
{
    /// <summary>The largest message this side accepts from a peer's queue, whatever the limits allow: the receive buffer's bound.</summary>
    public const long MaxMessageSize = 1024 * 1024;

    private const string Prefix = "/rpc-mq-";
    private const uint OwnerOnly = 0x180; // 0600

    private static readonly System.Buffers.SearchValues<char> NameCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

    private MqQueuePair(string name, int incoming, int outgoing)
    {
        Name = name;
        Incoming = incoming;
        Outgoing = outgoing;
        IncomingMessageSize = (int)MqNative.GetAttributes(incoming).MessageSize;
        OutgoingMessageSize = (int)MqNative.GetAttributes(outgoing).MessageSize;
    }

    /// <summary>The common part of the two queues' names (they end in <c>.c</c>, client to server, and <c>.s</c>).</summary>
    public string Name { get; }

    public int Incoming { get; }

    public int Outgoing { get; }

    public int IncomingMessageSize { get; }

    public int OutgoingMessageSize { get; }

    /// <summary>Server: creates both queues, shaped by <paramref name="messages"/> and <paramref name="messageSize"/> fitted to the limits.</summary>
    /// <exception cref="IOException">A queue cannot be created; the message names the limit.</exception>
    public static MqQueuePair Create(string transportName, long messages, long messageSize)
    {
        var limits = MqLimits.Read();
        (messages, messageSize) = limits.Fit(messages, messageSize);
        var name = $"{Prefix}{transportName}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        var toServer = CreateQueue(name + ".c", limits, messages, messageSize);
        try
        {
            var toClient = CreateQueue(name + ".s", limits, messages, messageSize);
            try
            {
                return new MqQueuePair(name, toServer, toClient);
            }
            catch
            {
                MqNative.Close(toClient);
                throw;
            }
        }
        catch
        {
            MqNative.Close(toServer);
            Unlink(name);
            throw;
        }
    }

    /// <summary>Client: opens the queues the server named, checks they are the server's own and private, and unlinks them.</summary>
    public static MqQueuePair Open(string name, uint serverUserId)
    {
        if (!IsValidName(name))
        {
            throw new IOException($"The server named an invalid queue '{name}'.");
        }

        try
        {
            var toClient = OpenQueue(name + ".s", serverUserId);
            try
            {
                var toServer = OpenQueue(name + ".c", serverUserId);
                try
                {
                    var pair = new MqQueuePair(name, toClient, toServer);
                    if (pair.IncomingMessageSize is < 1 or > (int)MaxMessageSize || pair.OutgoingMessageSize < 1)
                    {
                        throw new IOException($"The server's queues carry {pair.IncomingMessageSize}-byte messages; this side accepts at most {MaxMessageSize}.");
                    }

                    return pair;
                }
                catch
                {
                    MqNative.Close(toServer);
                    throw;
                }
            }
            catch
            {
                MqNative.Close(toClient);
                throw;
            }
        }
        finally
        {
            // Whatever happened, the names have done their job (or the server will remove them too).
            Unlink(name);
        }
    }

    /// <summary>Removes both names; each side calls it, whichever is first wins.</summary>
    public static void Unlink(string name)
    {
        MqNative.Unlink(name + ".c");
        MqNative.Unlink(name + ".s");
    }

    public void Dispose()
    {
        MqNative.Close(Incoming);
        MqNative.Close(Outgoing);
    }

    internal static bool IsValidName(string name) =>
        name.StartsWith(Prefix, StringComparison.Ordinal) && name.Length <= 200 &&
        name.AsSpan(1).IndexOfAnyExcept(NameCharacters) < 0;

    private static int CreateQueue(string name, MqLimits limits, long messages, long messageSize)
    {
        var descriptor = MqNative.Open(name, MqNative.OpenReadWrite | MqNative.OpenCreate | MqNative.OpenExclusive | MqNative.OpenCloseOnExec, OwnerOnly, messages, messageSize, out var error);
        return descriptor >= 0
            ? descriptor
            : throw new IOException($"Cannot create the message queue '{name}': {limits.Explain(error, messages, messageSize)}.", error);
    }

    private static int OpenQueue(string name, uint serverUserId)
    {
        var descriptor = MqNative.Open(name, MqNative.OpenReadWrite | MqNative.OpenCloseOnExec, 0, 0, 0, out var error);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open the message queue '{name}': {MqNative.Error("mq_open", error).Message}.", error);
        }

        try
        {
            // Anyone of the server's uid could have made the name; only a private queue of that uid is the server's.
            using var handle = new SafeFileHandle(descriptor, ownsHandle: false);
            var status = FileStatus.OfHandle(handle);
            if (status.UserId != serverUserId || (uint)status.Mode != OwnerOnly)
            {
                throw new IOException($"The message queue '{name}' belongs to uid {status.UserId} with mode {Convert.ToString((int)status.Mode, 8)}; expected uid {serverUserId}, mode 600.");
            }

            return descriptor;
        }
        catch
        {
            MqNative.Close(descriptor);
            throw;
        }
    }
}
