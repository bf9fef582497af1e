package customers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTrigrams(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"  c", " ca", "at ", "cat"}, trigrams("cat"))
	require.Equal(t, []string{"  a", "  b", " a ", " bb", "bb "}, trigrams("a  bb"), "words apart, padded")
	require.Equal(t, []string{"  王", " 王芳", "王芳 "}, trigrams("王芳"), "characters, not bytes")
	require.Empty(t, trigrams(""))
}

func TestSimilarity(t *testing.T) {
	t.Parallel()
	sim := func(a, b string) float64 { return similarity(trigrams(a), trigrams(b)) }
	require.Equal(t, 1.0, sim("wang fang", "wang fang"))
	require.Equal(t, 0.0, sim("wang", "li"))
	require.Equal(t, 0.0, sim("", "li"))
	// 6 shared of 9 and 8, as pg_trgm's similarity('jonathan', 'jonatan')
	require.InDelta(t, 6.0/11, sim("jonathan", "jonatan"), 1e-9)
	require.GreaterOrEqual(t, sim("wang fnag", "wang fang"), similarEnough)
	require.Less(t, sim("wang", "zhang wei"), similarEnough)
}
