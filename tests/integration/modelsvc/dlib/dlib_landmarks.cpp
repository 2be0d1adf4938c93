// Reference landmarks from dlib's own C++ (the test oracle for modelsvc.dlib_landmarks).
// Usage: dlib_landmarks PREDICTOR.dat IMAGES.gray COUNT HEIGHT WIDTH LEFT TOP RIGHT BOTTOM [REPEATS]
//   IMAGES.gray holds COUNT grayscale HEIGHT x WIDTH images, row-major, one byte per pixel.
//   Prints one line per image: x y of every landmark in the box (LEFT, TOP, RIGHT, BOTTOM);
//   with REPEATS > 0 it instead prints faces per second over REPEATS passes.
#include <dlib/image_processing.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

using namespace dlib;

int main(int argc, char** argv) {
    if (argc < 10) {
        std::cerr << "usage: dlib_landmarks MODEL IMAGES COUNT H W LEFT TOP RIGHT BOTTOM [REPEATS]\n";
        return 2;
    }
    shape_predictor predictor;
    deserialize(argv[1]) >> predictor;
    const long count = std::atol(argv[3]), height = std::atol(argv[4]), width = std::atol(argv[5]);
    const rectangle box(std::atol(argv[6]), std::atol(argv[7]), std::atol(argv[8]), std::atol(argv[9]));
    const long repeats = argc > 10 ? std::atol(argv[10]) : 0;
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<matrix<unsigned char>> images(count);
    for (auto& image : images) {
        image.set_size(height, width);
        in.read(reinterpret_cast<char*>(&image(0, 0)), height * width);
    }
    if (!in) {
        std::cerr << "the images file is shorter than " << count << " images\n";
        return 1;
    }
    if (repeats > 0) {
        const auto start = std::chrono::steady_clock::now();
        for (long r = 0; r < repeats; ++r)
            for (const auto& image : images) predictor(image, box);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        std::printf("%.6f\n", repeats * count / took.count());
        return 0;
    }
    for (const auto& image : images) {
        const full_object_detection shape = predictor(image, box);
        for (unsigned long i = 0; i < shape.num_parts(); ++i)
            std::printf(i ? " %ld %ld" : "%ld %ld", shape.part(i).x(), shape.part(i).y());
        std::printf("\n");
    }
    return 0;
}
