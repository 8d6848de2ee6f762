using Xunit;

namespace Rpc.Tests.Fuzzing;

/// <summary>
/// Replays the committed fuzzing corpus (hand-made seeds and what AFL++ found through
/// tests/Rpc.Fuzz) through the same entry points: every input ends in a documented outcome.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string> Targets => new() { "frames", "handshake", "metadata" };

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_EveryInput_OnlyDocumentedOutcomes(string target)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "Fuzzing", "Corpus", target);
        var inputs = Directory.GetFiles(directory);
        Assert.NotEmpty(inputs);
        var entryPoint = target switch
        {
            "frames" => (FuzzEntry)FuzzTargets.Frames,
            "handshake" => FuzzTargets.Handshake,
            _ => FuzzTargets.Metadata,
        };

        var failures = new List<string>();
        foreach (var input in inputs)
        {
            try
            {
                entryPoint(File.ReadAllBytes(input));
            }
            catch (Exception ex)
            {
                failures.Add($"{Path.GetFileName(input)}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        Assert.Empty(failures);
    }

    private delegate void FuzzEntry(ReadOnlySpan<byte> data);
}
