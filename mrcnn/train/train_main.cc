// bazel run //mrcnn:train -- --format=shapes --layers=heads --epochs=N [--set KEY=VALUE ...]
// The tutorial's training workflow; see --help and README "Training". The experiment sweep's trials
// run the same program with the experiment log's reporting plugged in (//experiments:train).
#include "mrcnn/config/untrusted.h"
#include "mrcnn/train/train_program.h"

namespace {

int Main(int argc, char** argv) { return mrcnn::RunTrainProgram(argc, argv, mrcnn::TrainProgramHooks()); }

}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("train", Main, argc, argv); }
